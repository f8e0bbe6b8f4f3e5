import { describe, expect, it } from 'vitest'
import { IDENTITY } from './placement'
import { layerPixelAt, topmostAt, type HitLayer } from './hitTest'

describe('layerPixelAt', () => {
  const size = { width: 4, height: 2 }

  it('undoes the offset; nothing outside the drawn box', () => {
    const placement = { ...IDENTITY, x: 10, y: -3 }
    expect(layerPixelAt({ x: 10, y: -3 }, size, placement)).toEqual({ x: 0, y: 0 })
    expect(layerPixelAt({ x: 13.9, y: -1.1 }, size, placement)).toEqual({ x: 3, y: 1 })
    expect(layerPixelAt({ x: 9.9, y: -2 }, size, placement)).toBeNull()
    expect(layerPixelAt({ x: 14, y: -2 }, size, placement)).toBeNull()
    expect(layerPixelAt({ x: 12, y: -1 }, size, placement)).toBeNull()
  })

  it('undoes the scale, sampling each drawn pixel at its centre', () => {
    const doubled = { ...IDENTITY, scale: 2 }
    expect(layerPixelAt({ x: 7.5, y: 3.5 }, size, doubled)).toEqual({ x: 3, y: 1 })
    expect(layerPixelAt({ x: 2.2, y: 1.9 }, size, doubled)).toEqual({ x: 1, y: 0 })
    expect(layerPixelAt({ x: 8, y: 0 }, size, doubled)).toBeNull()
    // 100 px drawn at 33%: 33 drawn pixels, the last one of them the layer's pixel 98.
    const third = { ...IDENTITY, scale: 0.33 }
    expect(layerPixelAt({ x: 32.5, y: 0 }, { width: 100, height: 1 }, third)).toEqual({ x: 98, y: 0 })
    expect(layerPixelAt({ x: 33, y: 0 }, { width: 100, height: 1 }, third)).toBeNull()
  })

  it('mirrors within the box for the flips', () => {
    expect(layerPixelAt({ x: 0.5, y: 0.5 }, size, { ...IDENTITY, flip_x: true })).toEqual({ x: 3, y: 0 })
    expect(layerPixelAt({ x: 0.5, y: 0.5 }, size, { ...IDENTITY, flip_y: true })).toEqual({ x: 0, y: 1 })
    expect(layerPixelAt({ x: 5, y: 3 }, size, { ...IDENTITY, x: 4, y: 2, scale: 2, flip_x: true, flip_y: true })).toEqual({ x: 3, y: 1 })
  })
})

describe('topmostAt', () => {
  // A 4 × 4 layer whose left half is transparent.
  const halfClear = (id: string, x: number, y: number): HitLayer => ({
    id,
    size: { width: 4, height: 4 },
    placement: { ...IDENTITY, x, y },
    alphaAt: (px) => (px < 2 ? 0 : 255),
  })
  const opaque = (id: string, x: number, y: number): HitLayer => ({ ...halfClear(id, x, y), alphaAt: () => 255 })

  it('picks the last (topmost) layer covering the point', () => {
    expect(topmostAt({ x: 1, y: 1 }, [opaque('a', 0, 0), opaque('b', 0, 0)])).toBe('b')
    expect(topmostAt({ x: 1, y: 1 }, [opaque('a', 0, 0), opaque('b', 2, 2)])).toBe('a')
  })

  it('looks through transparent pixels to the layer below', () => {
    const layers = [opaque('a', 0, 0), halfClear('b', 0, 0)]
    expect(topmostAt({ x: 1.5, y: 1 }, layers)).toBe('a')
    expect(topmostAt({ x: 2.5, y: 1 }, layers)).toBe('b')
  })

  it('is null where no layer has a pixel', () => {
    expect(topmostAt({ x: 1, y: 1 }, [halfClear('b', 0, 0)])).toBeNull()
    expect(topmostAt({ x: 9, y: 9 }, [opaque('a', 0, 0)])).toBeNull()
    expect(topmostAt({ x: 0, y: 0 }, [])).toBeNull()
  })
})
