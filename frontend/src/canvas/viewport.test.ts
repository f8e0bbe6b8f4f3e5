import { describe, expect, it } from 'vitest'
import { MAX_SCALE, centred, fit, toCanvas, zoomAt } from './viewport'

describe('fit', () => {
  it('shrinks a large canvas into the view and centres it', () => {
    expect(fit({ width: 1024, height: 1024 }, { width: 1072, height: 616 })).toEqual({ scale: 0.5, x: 280, y: 52 })
  })

  it('enlarges a small canvas to fill the view', () => {
    expect(fit({ width: 64, height: 64 }, { width: 1048, height: 616 }).scale).toBe(8)
  })

  it('leaves room above and below for the floating toolbars, less at the sides', () => {
    const wide = fit({ width: 100, height: 100 }, { width: 300, height: 204 })
    expect(wide).toEqual({ scale: 1, x: 100, y: 52 })
    expect(fit({ width: 100, height: 100 }, { width: 148, height: 1000 }).x).toBe(24)
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
