import type Konva from 'konva'

/** The pixel (RGBA, straight alpha) under the pointer in the stage's layer `name` as it is
 * drawn, at the screen's resolution; null without a pointer or such a layer. For the colour
 * picker, on the "composite" layer: the layers as displayed, without the checkerboard. */
export function sampleLayer(stage: Konva.Stage, name = 'composite'): Uint8ClampedArray | null {
  const pointer = stage.getPointerPosition()
  const layer = stage.findOne<Konva.Layer>(`.${name}`)
  if (pointer === null || layer === undefined) return null
  const canvas = layer.getNativeCanvasElement()
  const ratio = canvas.width / stage.width()
  const x = Math.min(canvas.width - 1, Math.max(0, Math.floor(pointer.x * ratio)))
  const y = Math.min(canvas.height - 1, Math.max(0, Math.floor(pointer.y * ratio)))
  return canvas.getContext('2d')!.getImageData(x, y, 1, 1).data
}
