import { expect, it } from 'vitest'
import { invertOverlay, maskToOverlay, overlayToMask } from './pixels'

const gray = new Uint8ClampedArray([0, 0, 0, 255, 255, 255, 255, 255, 128, 128, 128, 255])

it('turns a greyscale mask into a tinted overlay and back', () => {
  const overlay = maskToOverlay(gray, [10, 20, 30])
  expect([...overlay]).toEqual([10, 20, 30, 0, 10, 20, 30, 255, 10, 20, 30, 128])
  expect([...overlayToMask(overlay)]).toEqual([...gray])
})

it('scales the overlay alpha for display', () => {
  expect(maskToOverlay(gray, [0, 0, 0], 0.5)[7]).toBe(128)
})

it('treats transparent mask pixels as unselected', () => {
  expect(maskToOverlay(new Uint8ClampedArray([255, 255, 255, 0]))[3]).toBe(0)
})

it('inverts in place', () => {
  const overlay = maskToOverlay(gray, [1, 2, 3])
  invertOverlay(overlay, [1, 2, 3])
  expect([overlay[3], overlay[7], overlay[11]]).toEqual([255, 0, 127])
})
