import { describe, expect, it } from 'vitest'
import { appendPoint, boxText, parseBox, parsePoints, pixelAt } from './pickFormat'

describe('points', () => {
  it('appends clicks in the `x,y; x,y,0` format the sam op reads', () => {
    let text = appendPoint('', { x: 16, y: 20, label: 1 })
    expect(text).toBe('16,20')
    text = appendPoint(text, { x: 40, y: 44, label: 0 })
    expect(text).toBe('16,20; 40,44,0')
    expect(appendPoint('1,2;  ', { x: 3, y: 4, label: 1 })).toBe('1,2; 3,4')
  })

  it('parses what it wrote and skips what is not a point', () => {
    expect(parsePoints('16,20; 40,44,0')).toEqual([
      { x: 16, y: 20, label: 1 },
      { x: 40, y: 44, label: 0 },
    ])
    expect(parsePoints('a,b; 1,2,5; 3; ; 7,8')).toEqual([{ x: 7, y: 8, label: 1 }])
  })

  it('takes the pixel under the pointer, inside the image', () => {
    expect(pixelAt({ x: 16.7, y: 20.2 }, 64, 64)).toEqual({ x: 16, y: 20 })
    expect(pixelAt({ x: -3, y: 70 }, 64, 64)).toEqual({ x: 0, y: 63 })
  })
})

describe('box', () => {
  it('orders the corners and rounds to pixel edges inside the image', () => {
    expect(boxText({ x: 56.2, y: 50 }, { x: 7.8, y: 12 }, 64, 64)).toBe('8,12,56,50')
    expect(boxText({ x: -10, y: -10 }, { x: 80, y: 90 }, 64, 48)).toBe('0,0,64,48')
  })

  it('is null without an area', () => {
    expect(boxText({ x: 5, y: 5 }, { x: 5.2, y: 30 }, 64, 64)).toBeNull()
  })

  it('parses four numbers or nothing', () => {
    expect(parseBox('8,12,56,50')).toEqual([8, 12, 56, 50])
    expect(parseBox('')).toBeNull()
    expect(parseBox('1,2,3')).toBeNull()
  })
})
