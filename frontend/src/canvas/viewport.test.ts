import { describe, expect, it } from 'vitest'
import { MAX_SCALE, centred, fit, toCanvas, zoomAt } from './viewport'

describe('fit', () => {
  it('shrinks a large canvas into the view and centres it', () => {
    expect(fit({ width: 1024, height: 1024 }, { width: 1072, height: 560 })).toEqual({ scale: 0.5, x: 280, y: 24 })
  })

  it('enlarges a small canvas to fill the view', () => {
    expect(fit({ width: 64, height: 64 }, { width: 1048, height: 560 }).scale).toBe(8)
  })
})

describe('zoomAt', () => {
  it('keeps the point under the anchor in place', () => {
    const before = centred({ width: 512, height: 512 }, { width: 800, height: 600 }, 1)
    const anchor = { x: 300, y: 200 }
    const after = zoomAt(before, anchor, 2)
    expect(after.scale).toBe(2)
    expect(toCanvas(after, anchor)).toEqual(toCanvas(before, anchor))
  })

  it('clamps the scale', () => {
    expect(zoomAt({ scale: 30, x: 0, y: 0 }, { x: 0, y: 0 }, 4).scale).toBe(MAX_SCALE)
  })
})
