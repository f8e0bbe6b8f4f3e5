import { useState, useSyncExternalStore } from 'react'
import { errorText } from '../components/CanvasSizeDialog'
import { useController } from '../state/context'
import type { RegionSelection } from './selection'

/** The drawn region's actions, floating over the canvas (Photoshop's contextual task bar): crop
 * the canvas to it (Photoshop's Image › Crop; one undo step) or clear it. Hidden while painting. */
export function RegionBar({ region, painting }: { region: RegionSelection; painting: boolean }) {
  const controller = useController()
  const box = useSyncExternalStore(region.subscribe, () => region.box)
  const [busy, setBusy] = useState(false)
  if (box === null || painting) return null

  const crop = async () => {
    setBusy(true)
    try {
      await controller.changeCanvas({ crop: box })
      // The region was the new canvas: nothing is left to show of it.
      region.set(null)
    } catch (error) {
      controller.notify(`Could not crop the canvas: ${errorText(error)}`)
    } finally {
      setBusy(false)
    }
  }

  return (
    <div className="region-bar" role="toolbar" aria-label="Region">
      <span className="hint">
        Region {box.width} × {box.height} at {box.x}, {box.y}
      </span>
      <button
        type="button"
        disabled={busy}
        onClick={() => void crop()}
        title="Crop the canvas to the region (Image › Crop): the layers keep their pixels and move with the picture; Ctrl+Z undoes it"
      >
        Crop to region
      </button>
      <button type="button" onClick={() => region.set(null)} title="Clear the region (Esc)">
        Clear
      </button>
    </div>
  )
}
