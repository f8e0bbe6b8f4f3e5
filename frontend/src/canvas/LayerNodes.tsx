/* The layers as drawn on the canvas, each at its placement: image layers with their layer mask,
 * opacity and blend mode (the export's composite), mask layers as a tinted overlay. */
import type Konva from 'konva'
import type { Ref } from 'react'
import { Image as KonvaImage, Rect } from 'react-konva'
import { blobUrl } from '../api/client'
import type { BlendMode, Layer, Placement } from '../api/types'
import type { Progress } from '../state/app'
import { useAppState } from '../state/context'
import { useImage, useMaskOverlay } from './images'
import { maskBlobOf, useLayerPixels } from './layerPixels'
import { drawnSize, placedBox, type Box } from './placement'
import { previewSize } from './preview'
import type { Size } from './viewport'

const MASK_OPACITY = 0.5
const OUTLINE = '#3b82f6'

interface PlacedImageProps {
  name: string
  image: CanvasImageSource
  box: Box
  placement: Placement
  opacity: number
  blend?: BlendMode
  ref?: Ref<Konva.Image>
}

/** An image over `box`, mirrored within it by the placement's flips. */
export function PlacedImage({ name, image, box, placement, opacity, blend = 'normal', ref }: PlacedImageProps) {
  return (
    <KonvaImage
      ref={ref}
      name={name}
      image={image}
      x={box.x + (placement.flip_x ? box.width : 0)}
      y={box.y + (placement.flip_y ? box.height : 0)}
      width={box.width}
      height={box.height}
      scaleX={placement.flip_x ? -1 : 1}
      scaleY={placement.flip_y ? -1 : 1}
      opacity={opacity}
      globalCompositeOperation={blend === 'normal' ? 'source-over' : blend}
      listening={false}
    />
  )
}

interface ImageLayerNodeProps {
  layer: Layer
  layers: Layer[]
  placement: Placement
  canvas: Size
}

export function ImageLayerNode({ layer, layers, placement, canvas }: ImageLayerNodeProps) {
  const pixels = useLayerPixels(layer, maskBlobOf(layer, layers), layer.placement.scale)
  const progress = useAppState((s) => (layer.status === 'running' ? s.progress[layer.id] : undefined))
  if (progress?.preview != null) {
    const size = previewSize(layer, canvas, pixels?.size ?? null)
    return <PreviewNode preview={progress.preview} box={{ x: placement.x, y: placement.y, ...drawnSize(size, placement.scale) }} placement={placement} opacity={layer.opacity} />
  }
  if (pixels === null) return null
  return (
    <PlacedImage
      name={pixels.resampling ? 'layer-image resampling' : 'layer-image'}
      image={pixels.source}
      box={placedBox(pixels.size, placement)}
      placement={placement}
      opacity={1}
      blend={layer.blend}
    />
  )
}

/** The latest step of a running job, stretched over the layer's place. */
function PreviewNode({ preview, box, placement, opacity }: { preview: NonNullable<Progress['preview']>; box: Box; placement: Placement; opacity: number }) {
  const image = useImage(`data:image/jpeg;base64,${preview}`)
  if (image === null) return null
  return <PlacedImage name="job-preview" image={image} box={box} placement={placement} opacity={opacity} />
}

export function MaskLayerNode({ layer, placement }: { layer: Layer; placement: Placement }) {
  const overlay = useMaskOverlay(layer.blob === null ? null : blobUrl(layer.blob))
  if (overlay === null) return null
  return <PlacedImage name="mask-overlay" image={overlay} box={placedBox(overlay, placement)} placement={placement} opacity={layer.opacity * MASK_OPACITY} />
}

/** A layer's own size in pixels, once its image has loaded. */
export function useLayerSize(layer: Layer): Size | null {
  const image = useImage(layer.blob === null ? null : blobUrl(layer.blob))
  return image === null ? null : { width: image.naturalWidth, height: image.naturalHeight }
}

export function Outline({ box, scale }: { box: Box; scale: number }) {
  return <Rect name="layer-outline" {...box} stroke={OUTLINE} strokeWidth={2 / scale} dash={[6 / scale, 4 / scale]} listening={false} />
}

const DIM = 'rgba(24, 24, 27, 0.6)'

/** Shade over all of `view` but the canvas: what lies there is not in the export. */
export function OutsideDim({ canvas, view }: { canvas: Size; view: Box }) {
  const right = view.x + view.width
  const bottom = view.y + view.height
  const bands: Box[] = [
    { x: view.x, y: view.y, width: view.width, height: -view.y },
    { x: view.x, y: canvas.height, width: view.width, height: bottom - canvas.height },
    { x: view.x, y: 0, width: -view.x, height: canvas.height },
    { x: canvas.width, y: 0, width: right - canvas.width, height: canvas.height },
  ]
  return (
    <>
      {bands
        .filter((b) => b.width > 0 && b.height > 0)
        .map((b, i) => (
          <Rect key={i} name="outside-dim" {...b} fill={DIM} listening={false} />
        ))}
    </>
  )
}
