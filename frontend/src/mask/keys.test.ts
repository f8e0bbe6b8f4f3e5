import { describe, expect, it } from 'vitest'
import { biggerBrush, maxBrush, paintCommand, smallerBrush, typesText } from './keys'

const press = (key: string, mods: Partial<{ ctrlKey: boolean; metaKey: boolean; shiftKey: boolean; altKey: boolean }> = {}) => ({
  key,
  ctrlKey: false,
  metaKey: false,
  shiftKey: false,
  altKey: false,
  ...mods,
})

describe('paintCommand', () => {
  it('maps undo and redo of strokes', () => {
    expect(paintCommand(press('z', { ctrlKey: true }))).toBe('undo')
    expect(paintCommand(press('Z', { ctrlKey: true, shiftKey: true }))).toBe('redo')
    expect(paintCommand(press('y', { ctrlKey: true }))).toBe('redo')
    expect(paintCommand(press('z', { metaKey: true }))).toBe('undo')
  })

  it('maps Esc, the brush size and the eraser', () => {
    expect(paintCommand(press('Escape'))).toBe('exit')
    expect(paintCommand(press('['))).toBe('smaller')
    expect(paintCommand(press(']'))).toBe('bigger')
    expect(paintCommand(press('e'))).toBe('eraser')
    expect(paintCommand(press('E', { shiftKey: true }))).toBe('eraser')
  })

  it('maps B to the brush and I to the colour picker', () => {
    expect(paintCommand(press('b'))).toBe('brush')
    expect(paintCommand(press('I', { shiftKey: true }))).toBe('picker')
    expect(paintCommand(press('i', { ctrlKey: true }))).toBeNull()
  })

  it('leaves other keys and browser shortcuts alone', () => {
    expect(paintCommand(press('a'))).toBeNull()
    expect(paintCommand(press('e', { ctrlKey: true }))).toBeNull()
    expect(paintCommand(press('e', { altKey: true }))).toBeNull()
    expect(paintCommand(press('c', { ctrlKey: true }))).toBeNull()
  })
})

describe('typesText', () => {
  it('is true for text fields and false for sliders and buttons', () => {
    const text = document.createElement('input')
    const slider = document.createElement('input')
    slider.type = 'range'
    expect(typesText(text)).toBe(true)
    expect(typesText(document.createElement('textarea'))).toBe(true)
    expect(typesText(slider)).toBe(false)
    expect(typesText(document.createElement('button'))).toBe(false)
    expect(typesText(null)).toBe(false)
  })
})

describe('brush size steps', () => {
  it('grows and shrinks by about a fifth, by at least one pixel, within bounds', () => {
    expect(biggerBrush(40, 256)).toBe(48)
    expect(biggerBrush(1, 256)).toBe(2)
    expect(biggerBrush(250, 256)).toBe(256)
    expect(smallerBrush(48)).toBe(40)
    expect(smallerBrush(2)).toBe(1)
    expect(smallerBrush(1)).toBe(1)
  })

  it('allows larger brushes on larger masks', () => {
    expect(maxBrush(512, 512)).toBe(256)
    expect(maxBrush(4096, 2048)).toBe(1024)
  })
})
