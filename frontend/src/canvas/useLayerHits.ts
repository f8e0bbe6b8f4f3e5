import { useEffect, useRef, useState } from 'react'
import { blobUrl } from '../api/client'
import type { Layer, Placement } from '../api/types'
import { loadImage } from './images'
import { topmostAt, type HitLayer } from './hitTest'

/** The alpha of one pixel of an image, read through a 1 × 1 canvas (no copy of the whole image). */
function alphaReader(): (image: HTMLImageElement, x: number, y: number) => number {
  const canvas = document.createElement('canvas')
  canvas.width = canvas.height = 1
  const context = canvas.getContext('2d', { willReadFrequently: true })!
  return (image, x, y) => {
    context.clearRect(0, 0, 1, 1)
    context.drawImage(image, x, y, 1, 1, 0, 0, 1, 1)
    return context.getImageData(0, 0, 1, 1).data[3]
  }
}

/** The layer a click at a canvas point lands on: the topmost of `layers` (visible image layers,
 * bottom first, each where `placementOf` shows it) with a non-transparent pixel there. Layers
 * whose pixels have not loaded yet are passed over. */
export function useLayerHits(layers: Layer[], placementOf: (layer: Layer) => Placement): (p: { x: number; y: number }) => string | null {
  // Read only when a click lands, so loading one re-renders nothing.
  const loaded = useRef(new Map<string, HTMLImageElement>())
  const [alphaAt] = useState(alphaReader)
  const wanted = layers.flatMap((l) => (l.blob === null ? [] : [l.blob])).join(' ')

  useEffect(() => {
    const blobs = new Set(wanted === '' ? [] : wanted.split(' '))
    const images = loaded.current
    for (const blob of images.keys()) if (!blobs.has(blob)) images.delete(blob)
    for (const blob of blobs) {
      if (images.has(blob)) continue
      loadImage(blobUrl(blob)).then(
        (image) => {
          if (blobs.has(blob)) images.set(blob, image)
        },
        () => undefined,
      )
    }
    return () => blobs.clear()
  }, [wanted])

  return (p) => {
    const hits: HitLayer[] = layers.flatMap((layer) => {
      const image = layer.blob === null ? undefined : loaded.current.get(layer.blob)
      if (image === undefined) return []
      const size = { width: image.naturalWidth, height: image.naturalHeight }
      return [{ id: layer.id, size, placement: placementOf(layer), alphaAt: (x: number, y: number) => alphaAt(image, x, y) }]
    })
    return topmostAt(p, hits)
  }
}
