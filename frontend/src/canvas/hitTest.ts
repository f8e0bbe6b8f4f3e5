/* Which layer a click on the canvas lands on (Photoshop's move tool "auto-select"): the topmost
 * one whose own pixel under the pointer is not transparent, its placement (offset, scale, flips)
 * undone to find that pixel. */
import type { Placement } from '../api/types'
import { drawnSize } from './placement'
import type { Size } from './viewport'

/** The pixel of a layer of `size` pixels (its own, before its placement) drawn at canvas point
 * `p`; null when the layer does not cover `p`. The drawn pixel's centre is sampled, as the
 * export's resize does. */
export function layerPixelAt(p: { x: number; y: number }, size: Size, placement: Placement): { x: number; y: number } | null {
  const drawn = drawnSize(size, placement.scale)
  const column = Math.floor(p.x - placement.x)
  const row = Math.floor(p.y - placement.y)
  if (column < 0 || row < 0 || column >= drawn.width || row >= drawn.height) return null
  const c = placement.flip_x ? drawn.width - 1 - column : column
  const r = placement.flip_y ? drawn.height - 1 - row : row
  return {
    x: Math.min(size.width - 1, Math.floor(((c + 0.5) * size.width) / drawn.width)),
    y: Math.min(size.height - 1, Math.floor(((r + 0.5) * size.height) / drawn.height)),
  }
}

export interface HitLayer {
  id: string
  size: Size
  placement: Placement
  /** The alpha (0–255) of the layer's own pixel (x, y). */
  alphaAt: (x: number, y: number) => number
}

/** The id of the topmost of `layers` (bottom first) with a non-transparent pixel at canvas point
 * `p`; null when none has one there. */
export function topmostAt(p: { x: number; y: number }, layers: HitLayer[]): string | null {
  for (let i = layers.length - 1; i >= 0; i -= 1) {
    const layer = layers[i]
    const pixel = layerPixelAt(p, layer.size, layer.placement)
    if (pixel !== null && layer.alphaAt(pixel.x, pixel.y) > 0) return layer.id
  }
  return null
}
