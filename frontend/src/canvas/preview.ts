import type { Layer } from '../api/types'
import type { Size } from './viewport'

const dimension = (value: unknown): number | null => (typeof value === 'number' && value > 0 ? value : null)

/** Where a running layer's progress preview is drawn: its place on the canvas, the size its
 * recipe asks for (`width`/`height` params), else the size of its last result, else the canvas. */
export function previewSize(layer: Layer, canvas: Size, last: Size | null): Size {
  const width = dimension(layer.recipe.params.width)
  const height = dimension(layer.recipe.params.height)
  if (width !== null && height !== null) return { width, height }
  return last ?? canvas
}
