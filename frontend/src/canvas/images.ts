import { useEffect, useState } from 'react'
import { MASK_TINT, maskToOverlay } from '../mask/pixels'

export function loadImage(src: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const image = new Image()
    image.onload = () => resolve(image)
    image.onerror = () => reject(new Error(`could not load ${src}`))
    image.src = src
  })
}

/** A transparent canvas of `size`, kept in memory (not on the GPU): its pixels are read and
 * written from script. */
export function blankCanvas(size: { width: number; height: number }): [HTMLCanvasElement, CanvasRenderingContext2D] {
  const canvas = document.createElement('canvas')
  canvas.width = size.width
  canvas.height = size.height
  return [canvas, canvas.getContext('2d', { willReadFrequently: true })!]
}

export function imageData(image: CanvasImageSource, width: number, height: number): ImageData {
  const [, context] = blankCanvas({ width, height })
  context.drawImage(image, 0, 0)
  return context.getImageData(0, 0, width, height)
}

/** A greyscale mask image as a tinted overlay canvas (selected = tint, the rest transparent). */
export function overlayCanvas(mask: HTMLImageElement): HTMLCanvasElement {
  const { naturalWidth: width, naturalHeight: height } = mask
  const canvas = document.createElement('canvas')
  canvas.width = width
  canvas.height = height
  const pixels = maskToOverlay(imageData(mask, width, height).data, MASK_TINT)
  canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(pixels), width, height), 0, 0)
  return canvas
}

/** The loaded image at `src`; while a new src loads, the previous image stays (no flicker). */
export function useLoaded<T>(src: string | null, convert: (image: HTMLImageElement) => T): T | null {
  const [loaded, setLoaded] = useState<{ src: string; value: T } | null>(null)
  useEffect(() => {
    if (src === null) return
    let live = true
    loadImage(src).then(
      (image) => {
        if (live) setLoaded({ src, value: convert(image) })
      },
      () => undefined,
    )
    return () => {
      live = false
    }
  }, [src]) // `convert` is a module-level function at every call site
  return src === null ? null : (loaded?.value ?? null)
}

const same = (image: HTMLImageElement) => image

export function useImage(src: string | null): HTMLImageElement | null {
  return useLoaded(src, same)
}

export function useMaskOverlay(src: string | null): HTMLCanvasElement | null {
  return useLoaded(src, overlayCanvas)
}
