/* Pillow's BILINEAR resize of RGBA pixels, re-derived from its algorithm, so that a scaled layer
 * in the editor has the pixels of export.png to the level. The browser's bilinear sampling
 * matches it when enlarging, but not when reducing: Pillow's filter is a convolution whose
 * triangle widens with the reduction (it averages every source pixel under an output pixel), the
 * browser's reads only the four nearest.
 *
 * As Pillow does it: colours premultiplied by alpha (8-bit, rounded), a horizontal pass then a
 * vertical one, each rounded to 8 bits, with weights in fixed point of 22 fractional bits; then
 * the colours divided by alpha again (truncated). Tested against Pillow itself by
 * tests/test_resample_pillow.py. */

export interface PixelSize {
  width: number
  height: number
}

/** Fractional bits of the fixed-point weights (Pillow's for 8-bit images: 32 - 8 - 2). */
const PRECISION_BITS = 22
const ONE = 1 << PRECISION_BITS
const HALF = 1 << (PRECISION_BITS - 1)

/** Which source pixels each output pixel of one axis mixes, and their fixed-point weights. */
interface Taps {
  first: Int32Array
  count: Int32Array
  /** `stride` weights per output pixel, the first `count` of them used. */
  weights: Int32Array
  stride: number
}

/** The taps reducing or enlarging `from` pixels to `to`: output pixel i is centred on source
 * coordinate (i + 0.5)·from/to; a triangle of half-width max(1, from/to) over it weighs each
 * source pixel j by its centre j + 0.5, and the weights are normalised to sum to one. */
function axisTaps(from: number, to: number): Taps {
  const scale = from / to
  const widen = Math.max(1, scale)
  const support = widen
  const stride = Math.ceil(support) * 2 + 1
  const first = new Int32Array(to)
  const count = new Int32Array(to)
  const weights = new Int32Array(to * stride)
  const exact = new Float64Array(stride)
  for (let i = 0; i < to; i++) {
    const centre = (i + 0.5) * scale
    const lo = Math.max(0, Math.trunc(centre - support + 0.5))
    const hi = Math.min(from, Math.trunc(centre + support + 0.5))
    let total = 0
    for (let j = lo; j < hi; j++) {
      const w = Math.max(0, 1 - Math.abs((j - centre + 0.5) / widen))
      exact[j - lo] = w
      total += w
    }
    first[i] = lo
    count[i] = hi - lo
    for (let k = 0; k < hi - lo; k++) {
      weights[i * stride + k] = Math.trunc(0.5 + (total === 0 ? 0 : exact[k] / total) * ONE)
    }
  }
  return { first, count, weights, stride }
}

const clip8 = (sum: number) => Math.min(255, Math.max(0, sum >> PRECISION_BITS))

/** Each row of `size` RGBA pixels resized to `to` pixels. */
function horizontalPass(source: Uint8Array, size: PixelSize, to: number): Uint8Array<ArrayBuffer> {
  const { first, count, weights, stride } = axisTaps(size.width, to)
  const out = new Uint8Array(size.height * to * 4)
  let o = 0
  for (let y = 0; y < size.height; y++) {
    const row = y * size.width * 4
    for (let i = 0; i < to; i++) {
      let r = HALF
      let g = HALF
      let b = HALF
      let a = HALF
      let at = row + first[i] * 4
      const end = i * stride + count[i]
      for (let k = i * stride; k < end; k++, at += 4) {
        const w = weights[k]
        r += source[at] * w
        g += source[at + 1] * w
        b += source[at + 2] * w
        a += source[at + 3] * w
      }
      out[o++] = clip8(r)
      out[o++] = clip8(g)
      out[o++] = clip8(b)
      out[o++] = clip8(a)
    }
  }
  return out
}

/** Each column of `size` RGBA pixels resized to `to` pixels. */
function verticalPass(source: Uint8Array, size: PixelSize, to: number): Uint8Array<ArrayBuffer> {
  const { first, count, weights, stride } = axisTaps(size.height, to)
  const rowBytes = size.width * 4
  const out = new Uint8Array(to * rowBytes)
  for (let i = 0; i < to; i++) {
    const top = first[i] * rowBytes
    const k0 = i * stride
    const k1 = k0 + count[i]
    const o = i * rowBytes
    for (let x = 0; x < rowBytes; x++) {
      let sum = HALF
      for (let k = k0, at = top + x; k < k1; k++, at += rowBytes) sum += source[at] * weights[k]
      out[o + x] = clip8(sum)
    }
  }
  return out
}

/** Straight RGBA as 8-bit premultiplied levels, rounded as Pillow's RGBA → RGBa. */
function premultiplied(pixels: Uint8ClampedArray): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(pixels.length)
  for (let i = 0; i < pixels.length; i += 4) {
    const alpha = pixels[i + 3]
    for (let c = i; c < i + 3; c++) {
      const t = pixels[c] * alpha + 128
      out[c] = ((t >> 8) + t) >> 8
    }
    out[i + 3] = alpha
  }
  return out
}

/** Premultiplied levels back to straight RGBA in place, truncated as Pillow's RGBa → RGBA (fully
 * transparent and opaque pixels kept as they are). */
function unpremultiply(pixels: Uint8Array): void {
  for (let i = 0; i < pixels.length; i += 4) {
    const alpha = pixels[i + 3]
    if (alpha === 0 || alpha === 255) continue
    for (let c = i; c < i + 3; c++) pixels[c] = Math.min(255, Math.trunc((255 * pixels[c]) / alpha))
  }
}

/** `pixels` (straight RGBA rows of `size`) resized to `to` as Pillow's
 * `image.resize(to, Image.Resampling.BILINEAR)` does it for an RGBA image. */
export function resampleBilinear(pixels: Uint8ClampedArray, size: PixelSize, to: PixelSize): Uint8ClampedArray<ArrayBuffer> {
  for (const [name, s] of [['source', size], ['target', to]] as const) {
    if (!Number.isInteger(s.width) || !Number.isInteger(s.height) || s.width < 1 || s.height < 1) {
      throw new Error(`the ${name} size has to be whole pixels, at least 1x1, but is ${s.width}x${s.height}`)
    }
  }
  if (pixels.length !== size.width * size.height * 4) {
    throw new Error(`${pixels.length} bytes are not RGBA pixels of ${size.width}x${size.height}`)
  }
  if (to.width === size.width && to.height === size.height) return new Uint8ClampedArray(pixels)
  let out = premultiplied(pixels)
  if (to.width !== size.width) out = horizontalPass(out, size, to.width)
  if (to.height !== size.height) out = verticalPass(out, { width: to.width, height: size.height }, to.height)
  unpremultiply(out)
  return new Uint8ClampedArray(out.buffer)
}

/** A resampling asked of the worker (resample.worker.ts): `bitmap`'s pixels resized to `to`,
 * answered with `{ id, bitmap }`. */
export interface ResampleJob {
  id: number
  bitmap: ImageBitmap
  to: PixelSize
}
