import { createContext, useContext } from 'react'
import type { Box } from '../canvas/placement'
import { Versioned } from '../state/versioned'

/** The generation region the canvas shows and op forms generate into, and whether the region
 * tool (R) is on: then a drag on the canvas draws a new region. */
export class RegionSelection extends Versioned {
  box: Box | null = null
  tool = false

  set(box: Box | null): void {
    const now = this.box
    const same = box === now || (box !== null && now !== null && box.x === now.x && box.y === now.y && box.width === now.width && box.height === now.height)
    if (same) return
    this.box = box
    this.changed()
  }

  setTool(on: boolean): void {
    if (this.tool === on) return
    this.tool = on
    this.changed()
  }
}

export const RegionContext = createContext<RegionSelection | null>(null)

export function useRegionSelection(): RegionSelection | null {
  return useContext(RegionContext)
}
