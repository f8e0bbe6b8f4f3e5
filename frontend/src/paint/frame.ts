import type { Placement } from '../api/types'
import { drawnSize } from '../canvas/placement'
import type { Size } from '../canvas/viewport'
import type { Point } from './brush'

/** A canvas point in the own pixels of a layer of `size` drawn at `placement` (moved, scaled,
 * mirrored; its drawn size rounded as the export rounds it): where a brush over that canvas
 * point paints on the layer. */
export function toLayer(p: Point, placement: Placement, size: Size): Point {
  const drawn = drawnSize(size, placement.scale)
  const x = ((p.x - placement.x) * size.width) / drawn.width
  const y = ((p.y - placement.y) * size.height) / drawn.height
  return { x: placement.flip_x ? size.width - x : x, y: placement.flip_y ? size.height - y : y }
}
