import { useEffect } from 'react'
import { isTyping } from '../components/keys'
import type { RegionSelection } from './selection'

/** R picks the region tool, V and H leave it for the move tool and panning, Esc clears the region; not while typing, in a
 * dialog or while painting a mask (`enabled` false). `onTool` runs when R turns the tool on. */
export function useRegionKeys(region: RegionSelection, enabled: boolean, onTool: () => void): void {
  useEffect(() => {
    if (!enabled) return
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return
      if (e.target instanceof Element && e.target.closest('dialog') !== null) return
      const key = e.key.toLowerCase()
      if (key === 'r') {
        region.setTool(true)
        onTool()
      } else if (key === 'v' || key === 'h') {
        region.setTool(false)
      } else if (key === 'escape' && region.box !== null) {
        region.set(null)
      }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [region, enabled, onTool])
}
