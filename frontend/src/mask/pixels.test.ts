import { expect, it } from 'vitest'
import { applyLayerMask, invertOverlay, luminance, maskToOverlay, overlayToMask } from './pixels'

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

it('multiplies a layer\'s alpha by its layer mask\'s luminance', () => {
  const pixels = new Uint8ClampedArray([9, 8, 7, 255, 9, 8, 7, 200, 9, 8, 7, 255, 1, 2, 3, 0])
  applyLayerMask(pixels, new Uint8ClampedArray([255, 255, 255, 255, 128, 128, 128, 255, 0, 0, 0, 255, 255, 255, 255, 255]))
  expect([...pixels]).toEqual([9, 8, 7, 255, 9, 8, 7, 100, 9, 8, 7, 0, 1, 2, 3, 0])
  expect(() => applyLayerMask(pixels, new Uint8ClampedArray(4))).toThrow(/1 pixels for a layer of 4/)
})

it('fades a layer by its opacity after its mask, each rounded to a level as the export does', () => {
  const pixels = new Uint8ClampedArray([9, 8, 7, 255, 9, 8, 7, 201, 9, 8, 7, 3])
  applyLayerMask(pixels, null, 0.5)
  expect([...pixels].filter((_, i) => i % 4 === 3)).toEqual([128, 101, 2])
  const masked = new Uint8ClampedArray([9, 8, 7, 255])
  applyLayerMask(masked, new Uint8ClampedArray([101, 101, 101, 255]), 0.5)
  expect(masked[3]).toBe(51) // round(round(255 * 101 / 255) / 2): 101 → 50.5 → 51
})

it('reads a coloured mask\'s luminance as PIL does', () => {
  expect([luminance(255, 0, 0), luminance(0, 255, 0), luminance(0, 0, 255), luminance(77, 77, 77)]).toEqual([76, 150, 29, 77])
})
