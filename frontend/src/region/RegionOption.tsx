import type { Box } from '../canvas/placement'
import { drawnSize } from '../canvas/placement'
import { generationSize, type RegionTarget } from './region'

interface RegionOptionProps {
  box: Box
  target: RegionTarget
  /** The picked model's native side, when the form knows it. */
  native: number | null
  on: boolean
  onChange: (on: boolean) => void
}

/** "Generate in region" in an op form, with the size the region is generated at and placed back at. */
export function RegionOption({ box, target, native, on, onChange }: RegionOptionProps) {
  const output = native === null ? null : generationSize(box, native)
  const placed = output === null ? box : drawnSize(output, box.width / output.width)
  const generated = output === null ? 'at its model’s native size' : `at ${output.width}×${output.height}`
  return (
    <fieldset className="region-option">
      <label>
        <input type="checkbox" checked={on} onChange={(e) => onChange(e.target.checked)} /> Generate in region ({box.width}×{box.height} at {box.x}, {box.y})
      </label>
      {on && (
        <p className="hint region-note" aria-live="polite">
          {target.image !== null ? 'The canvas under the region is the image: ' : ''}
          generated {generated}, placed back at {placed.width}×{placed.height}. Esc clears the region.
        </p>
      )}
    </fieldset>
  )
}
