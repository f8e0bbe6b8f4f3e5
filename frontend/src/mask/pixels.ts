/** Mask pixels. A painted mask is held as an overlay: the tint colour everywhere, alpha =
 * how selected (255 = fully). The server stores masks as greyscale PNGs, white = selected. */

export type Rgb = readonly [number, number, number]

export const MASK_TINT: Rgb = [255, 40, 90]

/** Greyscale RGBA pixels (a decoded mask) as overlay pixels, alpha scaled by `strength`. */
export function maskToOverlay(gray: Uint8ClampedArray, tint: Rgb = MASK_TINT, strength = 1): Uint8ClampedArray {
  const out = new Uint8ClampedArray(gray.length)
  for (let i = 0; i < gray.length; i += 4) {
    out[i] = tint[0]
    out[i + 1] = tint[1]
    out[i + 2] = tint[2]
    out[i + 3] = Math.round(gray[i] * (gray[i + 3] / 255) * strength)
  }
  return out
}

/** Overlay pixels as an opaque greyscale mask (white where painted). */
export function overlayToMask(overlay: Uint8ClampedArray): Uint8ClampedArray {
  const out = new Uint8ClampedArray(overlay.length)
  for (let i = 0; i < overlay.length; i += 4) {
    const a = overlay[i + 3]
    out[i] = a
    out[i + 1] = a
    out[i + 2] = a
    out[i + 3] = 255
  }
  return out
}

/** Selected becomes unselected and the other way round, in place. */
export function invertOverlay(overlay: Uint8ClampedArray, tint: Rgb = MASK_TINT): void {
  for (let i = 0; i < overlay.length; i += 4) {
    overlay[i] = tint[0]
    overlay[i + 1] = tint[1]
    overlay[i + 2] = tint[2]
    overlay[i + 3] = 255 - overlay[i + 3]
  }
}

/** A pixel's luminance as PIL's RGB→L conversion rounds it (the export reads masks so). */
export function luminance(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16
}

/** A layer's mask and opacity, in place, as the export applies them: each pixel's alpha times its
 * mask pixel's luminance (white keeps, black hides), if a mask is given, rounded to a level; then
 * times the opacity, rounded again. RGBA arrays of the same size. */
export function applyLayerMask(pixels: Uint8ClampedArray, mask: Uint8ClampedArray | null, opacity = 1): void {
  if (mask !== null && pixels.length !== mask.length) {
    throw new Error(`a layer mask of ${mask.length / 4} pixels for a layer of ${pixels.length / 4}`)
  }
  for (let i = 0; i < pixels.length; i += 4) {
    const masked = mask === null ? pixels[i + 3] : Math.round((pixels[i + 3] * luminance(mask[i], mask[i + 1], mask[i + 2])) / 255)
    pixels[i + 3] = Math.round(masked * opacity)
  }
}
