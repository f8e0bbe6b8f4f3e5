import { useSyncExternalStore } from 'react'
import type { RegionSelection } from './selection'

/** The region tool's toggle (R); on, a drag on the canvas draws the region op forms generate into. */
export function RegionToolButton({ region, disabled, onTool }: { region: RegionSelection; disabled: boolean; onTool: () => void }) {
  const on = useSyncExternalStore(region.subscribe, () => region.tool)
  return (
    <button
      type="button"
      aria-pressed={on}
      disabled={disabled}
      onClick={() => {
        region.setTool(!on)
        if (!on) onTool()
      }}
      title="Region tool (R): drag a rectangle on the canvas to generate in it (an op form then offers “Generate in region”); its handles resize it; the bar over the canvas crops to it; Esc clears it"
    >
      <span aria-hidden="true">⬚</span> Region
    </button>
  )
}
