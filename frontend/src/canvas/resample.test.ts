import { describe, expect, it } from 'vitest'
import { resampleBilinear } from './resample'

/** `width`x`height` pixels all of `rgba`. */
function filled(width: number, height: number, rgba: number[]): Uint8ClampedArray {
  const pixels = new Uint8ClampedArray(width * height * 4)
  for (let i = 0; i < pixels.length; i += 4) pixels.set(rgba, i)
  return pixels
}

describe('resampleBilinear', () => {
  it('gives the same pixels, copied, at the same size', () => {
    const pixels = Uint8ClampedArray.from({ length: 7 * 5 * 4 }, (_, i) => (i * 37) % 256)
    const out = resampleBilinear(pixels, { width: 7, height: 5 }, { width: 7, height: 5 })
    expect(Array.from(out)).toEqual(Array.from(pixels))
    expect(out).not.toBe(pixels)
  })

  it('keeps a flat colour flat at any size, down to 1x1 and up from it', () => {
    const colour = [10, 200, 30, 255]
    for (const [size, to] of [
      [{ width: 33, height: 17 }, { width: 1, height: 1 }],
      [{ width: 1, height: 1 }, { width: 3, height: 3 }],
      [{ width: 7, height: 5 }, { width: 3, height: 2 }],
      [{ width: 7, height: 5 }, { width: 9, height: 7 }],
    ]) {
      const out = resampleBilinear(filled(size.width, size.height, colour), size, to)
      expect(out).toHaveLength(to.width * to.height * 4)
      expect(Array.from(out)).toEqual(Array.from(filled(to.width, to.height, colour)))
    }
  })

  it('averages every pixel under an output pixel when reducing, not only the nearest', () => {
    // 4 → 1: a triangle of half-width 4 over pixel centres 1.5 and 0.5 away weighs them 5:7:7:5.
    const row = Uint8ClampedArray.from([0, 0, 0, 240].flatMap((v) => [v, v, v, 255]))
    expect(Array.from(resampleBilinear(row, { width: 4, height: 1 }, { width: 1, height: 1 }))).toEqual([50, 50, 50, 255])
  })

  it('mixes premultiplied, so transparent pixels do not darken their neighbours', () => {
    const pair = Uint8ClampedArray.from([255, 0, 0, 255, 0, 0, 0, 0])
    expect(Array.from(resampleBilinear(pair, { width: 2, height: 1 }, { width: 1, height: 1 }))).toEqual([255, 0, 0, 128])
    const clear = filled(5, 3, [0, 0, 0, 0])
    expect(Array.from(resampleBilinear(clear, { width: 5, height: 3 }, { width: 2, height: 1 }))).toEqual(Array.from(filled(2, 1, [0, 0, 0, 0])))
  })

  it('changes only the axis whose size changes', () => {
    const column = Uint8ClampedArray.from([0, 100, 200].flatMap((v) => [v, v, v, 255]))
    const wider = resampleBilinear(column, { width: 1, height: 3 }, { width: 4, height: 3 })
    expect(Array.from(wider)).toEqual([0, 100, 200].flatMap((v) => Array(4).fill([v, v, v, 255]).flat()))
  })

  it('refuses sizes that are not whole pixels or do not fit the data', () => {
    const pixels = filled(2, 2, [1, 2, 3, 4])
    expect(() => resampleBilinear(pixels, { width: 2, height: 2 }, { width: 0, height: 1 })).toThrow(/target size/)
    expect(() => resampleBilinear(pixels, { width: 2, height: 2 }, { width: 1.5, height: 1 })).toThrow(/target size/)
    expect(() => resampleBilinear(pixels, { width: 2, height: 3 }, { width: 1, height: 1 })).toThrow(/not RGBA pixels of 2x3/)
  })
})
