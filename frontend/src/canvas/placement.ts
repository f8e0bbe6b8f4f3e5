/* Where a layer's pixels go on the canvas (its placement: the document's, not the recipe's), and
 * the move tool's arithmetic: snapping to the canvas's edges and centre lines, and limits. */
import type { Placement } from '../api/types'
import type { Size } from './viewport'

export interface Box {
  x: number
  y: number
  width: number
  height: number
}

export const IDENTITY: Placement = { x: 0, y: 0, scale: 1, flip_x: false, flip_y: false }
/** The server's limits: a layer's corner within 4 canvas sizes of the origin, scale 1%–1600%. */
export const REACH = 4
export const MIN_LAYER_SCALE = 0.01
export const MAX_LAYER_SCALE = 16

/** The size a layer of `size` pixels is drawn at, as the export rounds it. */
export function drawnSize(size: Size, scale: number): Size {
  return { width: Math.max(1, Math.round(size.width * scale)), height: Math.max(1, Math.round(size.height * scale)) }
}

/** The canvas rectangle a layer of `size` pixels covers. */
export function placedBox(size: Size, placement: Placement): Box {
  return { x: placement.x, y: placement.y, ...drawnSize(size, placement.scale) }
}

const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value))

/** A corner position on whole pixels within the server's reach. */
export function clampPosition(point: { x: number; y: number }, canvas: Size): { x: number; y: number } {
  return {
    x: clamp(Math.round(point.x), -REACH * canvas.width, REACH * canvas.width),
    y: clamp(Math.round(point.y), -REACH * canvas.height, REACH * canvas.height),
  }
}

/** A scale within the server's limits, to 4 decimals (1/10000 of a 1600 px layer is < 1 px). */
export function clampLayerScale(scale: number): number {
  return Math.round(clamp(scale, MIN_LAYER_SCALE, MAX_LAYER_SCALE) * 10000) / 10000
}

/** The placement of a layer of `size` pixels that the handles left drawn over `box` (the aspect is
 * kept, so its width says the scale). */
export function placementForBox(size: Size, box: Box, placement: Placement, canvas: Size): Placement {
  return { ...placement, ...clampPosition(box, canvas), scale: clampLayerScale(box.width / size.width) }
}

export interface Snapped {
  x: number
  y: number
  /** Canvas lines the box snapped to: x of vertical guides, y of horizontal ones. */
  vertical: number[]
  horizontal: number[]
}

/** The shift that brings the nearest of a box's lines (`start`, centre, end) onto the nearest of
 * `targets`, if within `threshold`; and the targets it lands on. */
function snapAxis(start: number, length: number, targets: number[], threshold: number): { shift: number; lines: number[] } {
  const lines = [start, start + length / 2, start + length]
  let best: number | null = null
  for (const target of targets) {
    for (const line of lines) {
      const shift = target - line
      if (Math.abs(shift) <= threshold && (best === null || Math.abs(shift) < Math.abs(best))) best = shift
    }
  }
  if (best === null) return { shift: 0, lines: [] }
  const shift = best
  return { shift, lines: targets.filter((t) => lines.some((line) => Math.abs(line + shift - t) < 1e-6)) }
}

/** A dragged box snapped to the canvas's edges and centre lines when one of its edges or its
 * centre is within `threshold` canvas pixels of one; each axis on its own. */
export function snapBox(box: Box, canvas: Size, threshold: number): Snapped {
  const sx = snapAxis(box.x, box.width, [0, canvas.width / 2, canvas.width], threshold)
  const sy = snapAxis(box.y, box.height, [0, canvas.height / 2, canvas.height], threshold)
  return { x: box.x + sx.shift, y: box.y + sy.shift, vertical: sx.lines, horizontal: sy.lines }
}

/** Arrow keys' nudge in canvas pixels: 1, or 10 with Shift (as in Photoshop); null for other keys. */
export function nudgeFor(key: string, shift: boolean): { x: number; y: number } | null {
  const step = shift ? 10 : 1
  switch (key) {
    case 'ArrowLeft':
      return { x: -step, y: 0 }
    case 'ArrowRight':
      return { x: step, y: 0 }
    case 'ArrowUp':
      return { x: 0, y: -step }
    case 'ArrowDown':
      return { x: 0, y: step }
    default:
      return null
  }
}
