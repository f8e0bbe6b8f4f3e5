/* While a layer is dragged, the layers below it and (when they all blend normally) those above it
 * are drawn once into two screen-sized pictures, so each frame of the drag draws three images
 * instead of every layer (50 layers of 2048² took ~100 ms a frame in software rendering). */
import type Konva from 'konva'
import { useLayoutEffect, useState, type RefObject } from 'react'
import type { BlendMode } from '../api/types'
import type { Size, Viewport } from './viewport'

/** The layers a drag of `dragging` draws from pictures: those below it, and those above it
 * unless one blends otherwise than normally (blended over nothing, then drawn over the rest, it
 * would not mix as it does with what is under it); null when `dragging` is not shown. */
export function snapshotSplit(layers: { id: string; blend: BlendMode }[], dragging: string | null): { below: string[]; above: string[] } | null {
  const at = layers.findIndex((l) => l.id === dragging)
  if (at < 0) return null
  const above = layers.slice(at + 1)
  return { below: layers.slice(0, at).map((l) => l.id), above: above.every((l) => l.blend === 'normal') ? above.map((l) => l.id) : [] }
}

export interface DragSnapshot {
  below: HTMLCanvasElement | null
  above: HTMLCanvasElement | null
  /** The layers drawn from the pictures, hidden meanwhile. */
  covered: Set<string>
  /** Where the pictures go, in canvas coordinates: the whole view. */
  view: { x: number; y: number; width: number; height: number }
}

/** The attribute naming the layer a node of the composite draws. */
export const LAYER_ATTR = 'layerId'

/** The composite layer drawn with only `ids` visible, copied (screen-sized, 1:1). */
function drawnWith(layer: Konva.Layer, ids: Set<string>): HTMLCanvasElement | null {
  if (ids.size === 0) return null
  for (const node of layer.getChildren() as Konva.Node[]) node.visible(ids.has(node.getAttr(LAYER_ATTR) as string))
  layer.draw()
  const source = layer.getNativeCanvasElement()
  const copy = document.createElement('canvas')
  copy.width = source.width
  copy.height = source.height
  copy.getContext('2d')!.drawImage(source, 0, 0)
  return copy
}

/** The pictures for a drag of `dragging` over the composite layer, remade when the view, the
 * layers or their order change; null when nothing is dragged. */
export function useDragSnapshot(
  composite: RefObject<Konva.Layer | null>,
  layers: { id: string; blend: BlendMode }[],
  dragging: string | null,
  viewport: Viewport | null,
  size: Size | null,
  version: unknown,
): DragSnapshot | null {
  const [snapshot, setSnapshot] = useState<DragSnapshot | null>(null)
  const key = layers.map((l) => `${l.id}:${l.blend}`).join(' ')
  useLayoutEffect(() => {
    const layer = composite.current
    const split = snapshotSplit(layers, dragging)
    if (layer === null || split === null || viewport === null || size === null) {
      setSnapshot(null)
      return
    }
    const shown = layer.getChildren().map((node) => [node, node.visible()] as const)
    const below = drawnWith(layer, new Set(split.below))
    const above = drawnWith(layer, new Set(split.above))
    for (const [node, visible] of shown) node.visible(visible)
    const { scale, x, y } = viewport
    setSnapshot({ below, above, covered: new Set([...split.below, ...split.above]), view: { x: -x / scale, y: -y / scale, width: size.width / scale, height: size.height / scale } })
    // `key` and `version` stand for `layers`: a new array each render with the same layers.
  }, [composite, dragging, viewport, size, key, version]) // eslint-disable-line react-hooks/exhaustive-deps
  return dragging === null ? null : snapshot
}
