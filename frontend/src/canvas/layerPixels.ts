/* A layer's pixels as the export composites them: its layer mask and opacity applied to its alpha
 * in the layer's own frame, then resampled (bilinear) to its drawn size. */
import { useMemo } from 'react'
import { blobUrl } from '../api/client'
import type { Layer } from '../api/types'
import { applyLayerMask } from '../mask/pixels'
import { useImage } from './images'
import { drawnSize } from './placement'
import type { Size } from './viewport'

/** Beyond this many pixels a scaled layer is stretched when drawn instead of resampled ahead
 * (a 512 px layer at 1600% would take a gigabyte). */
const MAX_RESAMPLED_PIXELS = 4096 * 4096

function blankCanvas(size: Size): [HTMLCanvasElement, CanvasRenderingContext2D] {
  const canvas = document.createElement('canvas')
  canvas.width = size.width
  canvas.height = size.height
  return [canvas, canvas.getContext('2d', { willReadFrequently: true })!]
}

/** `source` drawn at `size`, bilinear as the export resamples (Chromium's 'low' quality is
 * plain bilinear; the higher ones add mipmaps or bicubic). */
export function resampled(source: CanvasImageSource, size: Size): HTMLCanvasElement {
  const [canvas, context] = blankCanvas(size)
  context.imageSmoothingEnabled = true
  context.imageSmoothingQuality = 'low'
  context.drawImage(source, 0, 0, size.width, size.height)
  return canvas
}

/** The layer's pixels with their alpha times the mask's luminance (a mask of another size is
 * first resized to the layer's) and times the opacity, each rounded to 8 bits as the export
 * does: drawing the opacity on the fly instead rounds differently, off by a level or two. */
export function fadedLayer(image: HTMLImageElement, mask: HTMLImageElement | null, opacity: number): HTMLCanvasElement {
  const size = { width: image.naturalWidth, height: image.naturalHeight }
  const [canvas, context] = blankCanvas(size)
  context.drawImage(image, 0, 0)
  const pixels = context.getImageData(0, 0, size.width, size.height)
  const maskPixels = mask === null ? null : resampled(mask, size).getContext('2d')!.getImageData(0, 0, size.width, size.height).data
  applyLayerMask(pixels.data, maskPixels, opacity)
  context.putImageData(pixels, 0, 0)
  return canvas
}

export interface LayerPixels {
  source: CanvasImageSource
  /** The layer's own size. */
  size: Size
}

/** An image layer's pixels, masked, faded by its opacity and resampled for `scale`; null until
 * they (and the mask) have loaded. Drawn at another scale (while the handles scale it) they are
 * stretched. */
export function useLayerPixels(layer: Layer, maskBlob: string | null, scale: number): LayerPixels | null {
  const image = useImage(layer.blob === null ? null : blobUrl(layer.blob))
  const mask = useImage(maskBlob === null ? null : blobUrl(maskBlob))
  const { opacity } = layer
  const masked = useMemo(() => {
    if (image === null || (maskBlob !== null && mask === null)) return null
    return mask === null && opacity === 1 ? image : fadedLayer(image, mask, opacity)
  }, [image, mask, maskBlob, opacity])
  const size = image === null ? null : { width: image.naturalWidth, height: image.naturalHeight }
  const drawn = size === null ? null : drawnSize(size, scale)
  const resample = drawn !== null && scale !== 1 && drawn.width * drawn.height <= MAX_RESAMPLED_PIXELS
  const dw = drawn?.width ?? 0
  const dh = drawn?.height ?? 0
  const source = useMemo(
    () => (masked === null ? null : resample ? resampled(masked, { width: dw, height: dh }) : masked),
    [masked, resample, dw, dh],
  )
  if (source === null || size === null || drawn === null) return null
  return { source, size }
}

/** The blob of the layer mask `layer` has, when that mask layer has pixels. */
export function maskBlobOf(layer: Layer, layers: Layer[]): string | null {
  if (layer.mask === null) return null
  return layers.find((l) => l.id === layer.mask)?.blob ?? null
}
