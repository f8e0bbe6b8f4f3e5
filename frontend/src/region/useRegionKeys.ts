import { useCallback } from 'react'
import { useToolShortcuts } from '../components/keys'
import type { RegionSelection } from './selection'

/** R picks the region tool, V and H leave it for the move tool and panning, Esc clears the region; not while typing, in a
 * dialog or while painting a mask (`enabled` false). `onTool` runs when R turns the tool on. */
export function useRegionKeys(region: RegionSelection, enabled: boolean, onTool: () => void): void {
  const onKey = useCallback(
    (key: string) => {
      if (key === 'r') {
        region.setTool(true)
        onTool()
      } else if (key === 'v' || key === 'h') {
        region.setTool(false)
      } else if (key === 'escape' && region.box !== null) {
        region.set(null)
      }
    },
    [region, onTool],
  )
  useToolShortcuts(enabled, onKey)
}
