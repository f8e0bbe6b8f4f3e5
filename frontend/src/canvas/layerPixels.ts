/* A layer's pixels as the export composites them: its layer mask and opacity applied to its alpha
 * in the layer's own frame, then resampled to its drawn size with the export's arithmetic
 * (Pillow's bilinear resize, resample.ts). */
import { useEffect, useMemo, useState } from 'react'
import { blobUrl } from '../api/client'
import type { Layer } from '../api/types'
import { applyLayerMask } from '../mask/pixels'
import { exactlyScaled } from './exactScale'
import { blankCanvas, imageData, useImage } from './images'
import { drawnSize } from './placement'
import { resampleBilinear } from './resample'
import type { Size } from './viewport'

/** Beyond this many pixels a scaled layer is stretched when drawn instead of resampled ahead
 * (a 512 px layer at 1600% would take a gigabyte). */
const MAX_RESAMPLED_PIXELS = 4096 * 4096

/** A layer mask's pixels at `size`: resized, when its own size differs, as the export does. */
function maskPixelsAt(mask: HTMLImageElement, size: Size): Uint8ClampedArray {
  const own = { width: mask.naturalWidth, height: mask.naturalHeight }
  return resampleBilinear(imageData(mask, own.width, own.height).data, own, size)
}

/** The layer's pixels with their alpha times the mask's luminance (a mask of another size is
 * first resized to the layer's, as the export does) and times the opacity, each rounded to 8 bits
 * as the export does: drawing the opacity on the fly instead rounds differently, off by a level or
 * two. */
export function fadedLayer(image: HTMLImageElement, mask: HTMLImageElement | null, opacity: number): HTMLCanvasElement {
  const size = { width: image.naturalWidth, height: image.naturalHeight }
  const [canvas, context] = blankCanvas(size)
  context.drawImage(image, 0, 0)
  const pixels = context.getImageData(0, 0, size.width, size.height)
  applyLayerMask(pixels.data, mask === null ? null : maskPixelsAt(mask, size), opacity)
  context.putImageData(pixels, 0, 0)
  return canvas
}

export interface LayerPixels {
  source: CanvasImageSource
  /** The layer's own size. */
  size: Size
  /** Still stretched by the browser while the export's resampling of them is being made. */
  resampling: boolean
}

/** An image layer's pixels, masked, faded by its opacity and resampled for `scale` as the export
 * resamples them; null until they (and the mask) have loaded. Until the resampled pixels are
 * made, and drawn at another scale (while the handles scale it), they are stretched. */
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
  // As the export: resampled when the drawn size differs from the layer's own.
  const resized = size !== null && drawn !== null && (drawn.width !== size.width || drawn.height !== size.height)
  const resample = masked !== null && resized && drawn.width * drawn.height <= MAX_RESAMPLED_PIXELS
  const key = resample ? `${layer.blob}|${maskBlob}|${opacity}|${drawn.width}x${drawn.height}` : null
  const [scaled, setScaled] = useState<{ key: string; canvas: HTMLCanvasElement } | null>(null)
  useEffect(() => {
    if (key === null || masked === null || drawn === null) return
    let live = true
    exactlyScaled(key, masked, drawn).then(
      (canvas) => {
        if (live) setScaled({ key, canvas })
      },
      () => undefined, // left stretched
    )
    return () => {
      live = false
    }
  }, [key, masked]) // `drawn` follows from them
  if (masked === null || size === null) return null
  const ready = scaled !== null && scaled.key === key
  return { source: ready ? scaled.canvas : masked, size, resampling: key !== null && !ready }
}

/** The blob of the layer mask `layer` has, when that mask layer has pixels. */
export function maskBlobOf(layer: Layer, layers: Layer[]): string | null {
  if (layer.mask === null) return null
  return layers.find((l) => l.id === layer.mask)?.blob ?? null
}
