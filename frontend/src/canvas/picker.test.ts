import { describe, expect, it } from 'vitest'
import { CanvasPicker, type PickTarget } from './picker'

function field(initial = ''): PickTarget & { writes: string[] } {
  const target = {
    value: initial,
    writes: [] as string[],
    onChange: (value: string) => {
      target.value = value
      target.writes.push(value)
    },
  }
  return target
}

describe('CanvasPicker', () => {
  it('writes clicks to the points field and drags to the box field', () => {
    const picker = new CanvasPicker()
    const points = field()
    const box = field()
    picker.register('points', points)
    picker.register('box', box)
    picker.click({ x: 16.4, y: 20.9 }, true, 64, 64)
    picker.click({ x: 40, y: 44 }, false, 64, 64)
    expect(points.value).toBe('16,20; 40,44,0')
    expect(picker.points).toHaveLength(2)
    expect(picker.drag({ x: 56, y: 50 }, { x: 8, y: 12 }, 64, 64)).toBe(true)
    expect(box.value).toBe('8,12,56,50')
    expect(picker.box).toEqual([8, 12, 56, 50])
  })

  it('ignores a drag without an area or without a box field', () => {
    const picker = new CanvasPicker()
    const points = field()
    picker.register('points', points)
    expect(picker.drag({ x: 1, y: 1 }, { x: 30, y: 30 }, 64, 64)).toBe(false)
    const box = field('1,1,2,2')
    picker.register('box', box)
    expect(picker.drag({ x: 5, y: 5 }, { x: 5, y: 30 }, 64, 64)).toBe(false)
    expect(box.writes).toEqual([])
  })

  it('picks only while there is a field to write to', () => {
    const picker = new CanvasPicker()
    picker.setActive(true)
    expect(picker.picking).toBe(false)
    const unregister = picker.register('points', field())
    picker.setActive(true)
    expect(picker.picking).toBe(true)
    unregister()
    expect(picker.picking).toBe(false)
    expect(picker.kinds).toEqual([])
  })

  it('keeps picking while the fields register again (each render of the form)', () => {
    const picker = new CanvasPicker()
    const withdraw = [picker.register('points', field()), picker.register('box', field())]
    picker.setActive(true)
    for (const w of withdraw) w()
    picker.register('points', field('1,1'))
    picker.register('box', field())
    expect(picker.picking).toBe(true)
  })

  it('keeps a field that registered again when its old registration is withdrawn', () => {
    const picker = new CanvasPicker()
    const old = picker.register('points', field('1,1'))
    picker.register('points', field('2,2'))
    old()
    expect(picker.points).toEqual([{ x: 2, y: 2, label: 1 }])
  })
})
