import { describe, expect, it } from 'vitest'
import { composeStroke, coverage, hexToRgb, pickedColour, rgbToHex, segmentDistance, stampSegment, type Ink } from './brush'

describe('coverage', () => {
  it('is full inside a hard brush, anti-aliased over its edge pixel and nothing beyond', () => {
    expect(coverage(0, 10, 1)).toBe(1)
    expect(coverage(9.5, 10, 1)).toBe(1)
    expect(coverage(10, 10, 1)).toBe(0.5)
    expect(coverage(10.5, 10, 1)).toBe(0)
  })

  it('falls off smoothly from the hard core of a soft brush to its edge', () => {
    expect(coverage(5, 10, 0.5)).toBe(1)
    expect(coverage(7.5, 10, 0.5)).toBeCloseTo(0.5)
    const falling = [5.5, 6.5, 7.5, 8.5, 9.5].map((d) => coverage(d, 10, 0.5))
    for (let i = 1; i < falling.length; i++) expect(falling[i]).toBeLessThan(falling[i - 1])
    expect(coverage(10, 10, 0.5)).toBe(0)
    expect(coverage(0, 10, 0)).toBe(1)
    expect(coverage(5, 10, 0)).toBeCloseTo(0.5)
  })
})

describe('segmentDistance', () => {
  it('measures to the nearest point of the segment, or of a dot', () => {
    expect(segmentDistance({ x: 5, y: 3 }, { x: 0, y: 0 }, { x: 10, y: 0 })).toBe(3)
    expect(segmentDistance({ x: 13, y: 4 }, { x: 0, y: 0 }, { x: 10, y: 0 })).toBe(5)
    expect(segmentDistance({ x: 3, y: 4 }, { x: 0, y: 0 }, { x: 0, y: 0 })).toBe(5)
  })
})

describe('stampSegment', () => {
  it('covers a capsule around the segment, clipped to the layer, and says where', () => {
    const cover = new Uint8Array(20 * 10)
    const rect = stampSegment(cover, 20, 10, { x: 5, y: 5 }, { x: 15, y: 5 }, { size: 4, hardness: 1 })
    expect(rect).toEqual({ x: 2, y: 2, width: 16, height: 6 })
    expect(cover[5 * 20 + 10]).toBe(255) // on the line
    expect(cover[5 * 20 + 4]).toBe(255) // the round cap before its start
    expect(cover[5 * 20 + 3]).toBe(234) // its anti-aliased edge
    expect(cover[0]).toBe(0)
    expect(cover[8 * 20 + 10]).toBe(0) // beyond the radius
    expect(stampSegment(cover, 20, 10, { x: -50, y: -50 }, { x: -40, y: -50 }, { size: 4, hardness: 1 })).toBeNull()
    expect(stampSegment(cover, 20, 10, { x: 0, y: 0 }, { x: 0, y: 0 }, { size: 4, hardness: 1 })).toEqual({ x: 0, y: 0, width: 3, height: 3 })
  })

  it('keeps the most any segment covered, so a stroke never builds up over itself', () => {
    const cover = new Uint8Array(30 * 30)
    const soft = { size: 20, hardness: 0 }
    stampSegment(cover, 30, 30, { x: 15, y: 15 }, { x: 15, y: 15 }, soft)
    const once = [...cover]
    stampSegment(cover, 30, 30, { x: 15, y: 15 }, { x: 15, y: 15 }, soft)
    expect([...cover]).toEqual(once)
  })
})

describe('composeStroke', () => {
  const red: Ink = { colour: [255, 0, 0], opacity: 1, erase: false }
  // Two pixels: transparent, and opaque blue.
  const base = new Uint8ClampedArray([0, 0, 0, 0, 0, 0, 255, 255])
  const rect = { x: 0, y: 0, width: 2, height: 1 }

  it('lays the colour on where covered, by the coverage times the opacity', () => {
    expect([...composeStroke(base, new Uint8Array([255, 255]), 2, rect, red)]).toEqual([255, 0, 0, 255, 255, 0, 0, 255])
    expect([...composeStroke(base, new Uint8Array([0, 0]), 2, rect, red)]).toEqual([...base])
    const half = composeStroke(base, new Uint8Array([255, 255]), 2, rect, { ...red, opacity: 0.5 })
    // On nothing: the colour itself, half opaque; on blue: a mix, opaque.
    expect([...half]).toEqual([255, 0, 0, 128, 128, 0, 128, 255])
  })

  it('erases alpha and keeps the colour beneath', () => {
    const erased = composeStroke(base, new Uint8Array([255, 128]), 2, rect, { ...red, erase: true })
    expect([...erased]).toEqual([0, 0, 0, 0, 0, 0, 255, 127])
  })

  it('reads and writes only the pixels of the rectangle', () => {
    const wide = new Uint8ClampedArray([0, 0, 0, 0, 9, 9, 9, 255, 0, 0, 0, 0])
    const out = composeStroke(wide, new Uint8Array([255, 255, 255]), 3, { x: 1, y: 0, width: 1, height: 1 }, red)
    expect([...out]).toEqual([255, 0, 0, 255])
  })
})

describe('colours', () => {
  it('converts between #rrggbb and RGB, and refuses anything else', () => {
    expect(hexToRgb('#ff8000')).toEqual([255, 128, 0])
    expect(rgbToHex([1, 171, 255])).toBe('#01abff')
    expect(() => hexToRgb('red')).toThrow(/not a colour: "red"/)
  })

  it('picks the colour of a drawn pixel and nothing from a transparent one', () => {
    expect(pickedColour([200, 100, 50, 255])).toBe('#c86432')
    expect(pickedColour([200, 100, 50, 10])).toBe('#c86432')
    expect(pickedColour([0, 0, 0, 0])).toBeNull()
  })
})
