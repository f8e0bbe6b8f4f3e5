import { describe, expect, it } from 'vitest'
import { IDENTITY, clampLayerScale, clampPosition, drawnSize, nudgeFor, placedBox, placementForBox, snapBox } from './placement'

const canvas = { width: 512, height: 384 }

describe('placedBox', () => {
  it('is the layer at its corner, its size scaled and rounded as the export rounds it', () => {
    expect(placedBox({ width: 100, height: 33 }, { ...IDENTITY, x: -5, y: 7, scale: 1.5 })).toEqual({ x: -5, y: 7, width: 150, height: 50 })
    expect(drawnSize({ width: 3, height: 3 }, 0.01)).toEqual({ width: 1, height: 1 })
  })
})

describe('placementForBox', () => {
  it('takes the scale from the width and the corner on whole pixels, keeping the flips', () => {
    const placement = { ...IDENTITY, flip_x: true }
    expect(placementForBox({ width: 64, height: 32 }, { x: 10.4, y: -3.6, width: 128, height: 64 }, placement, canvas)).toEqual({
      x: 10,
      y: -4,
      scale: 2,
      flip_x: true,
      flip_y: false,
    })
  })

  it('stays within the server limits', () => {
    expect(clampLayerScale(40)).toBe(16)
    expect(clampLayerScale(0)).toBe(0.01)
    expect(clampLayerScale(1 / 3)).toBe(0.3333)
    expect(clampPosition({ x: 99999, y: -99999 }, canvas)).toEqual({ x: 2048, y: -1536 })
  })
})

describe('snapBox', () => {
  const box = { x: 0, y: 0, width: 100, height: 50 }

  it('snaps an edge near a canvas edge onto it and names the guide', () => {
    expect(snapBox({ ...box, x: 4, y: 40 }, canvas, 6)).toEqual({ x: 0, y: 40, vertical: [0], horizontal: [] })
    expect(snapBox({ ...box, x: 415, y: 338 }, canvas, 6)).toEqual({ x: 412, y: 334, vertical: [512], horizontal: [384] })
  })

  it('snaps the centre onto the centre lines', () => {
    expect(snapBox({ ...box, x: 203, y: 170 }, canvas, 6)).toEqual({ x: 206, y: 167, vertical: [256], horizontal: [192] })
  })

  it('takes the nearest line when two are in reach, and leaves a box out of reach alone', () => {
    // Left edge 3 px from the centre line, right edge 2 px from the canvas edge.
    expect(snapBox({ x: 259, y: 100, width: 251, height: 10 }, canvas, 6)).toMatchObject({ x: 261, vertical: [512] })
    expect(snapBox({ ...box, x: 100, y: 100 }, canvas, 6)).toEqual({ x: 100, y: 100, vertical: [], horizontal: [] })
  })

  it('names every guide a box lands on: a box as wide as the canvas touches both edges', () => {
    expect(snapBox({ x: 3, y: 100, width: 512, height: 10 }, canvas, 6).vertical).toEqual([0, 256, 512])
  })
})

describe('nudgeFor', () => {
  it('moves by 1 px, 10 with Shift, for arrow keys only', () => {
    expect(nudgeFor('ArrowLeft', false)).toEqual({ x: -1, y: 0 })
    expect(nudgeFor('ArrowDown', true)).toEqual({ x: 0, y: 10 })
    expect(nudgeFor('a', false)).toBeNull()
  })
})
