/** The keys of paint mode. They win over the editor's while a mask or a colour layer is painted. */

export type PaintCommand = 'undo' | 'redo' | 'exit' | 'smaller' | 'bigger' | 'eraser' | 'brush' | 'picker'

interface KeyPress {
  key: string
  ctrlKey: boolean
  metaKey: boolean
  shiftKey: boolean
  altKey: boolean
}

/** Ctrl+Z / Ctrl+Shift+Z / Ctrl+Y for strokes, Esc to leave, `[` `]` for the brush size, E toggles
 * the eraser, B the brush and I the colour picker (Photoshop's and Krita's keys). */
export function paintCommand(e: KeyPress): PaintCommand | null {
  const key = e.key.toLowerCase()
  if (e.ctrlKey || e.metaKey) {
    if (key === 'z') return e.shiftKey ? 'redo' : 'undo'
    if (key === 'y') return 'redo'
    return null
  }
  if (e.altKey) return null
  if (key === 'escape') return 'exit'
  if (key === '[') return 'smaller'
  if (key === ']') return 'bigger'
  if (key === 'e') return 'eraser'
  if (key === 'b') return 'brush'
  if (key === 'i') return 'picker'
  return null
}

const NOT_TEXT = new Set(['range', 'checkbox', 'radio', 'button', 'submit', 'reset', 'color', 'file'])

/** Whether a key press goes into a field that takes text (a slider does not). */
export function typesText(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false
  if (target.isContentEditable || target.tagName === 'TEXTAREA' || target.tagName === 'SELECT') return true
  return target instanceof HTMLInputElement && !NOT_TEXT.has(target.type)
}

export const MIN_BRUSH = 1

/** The largest brush for a mask of this size: a quarter of its longer side, at least 256 px. */
export function maxBrush(width: number, height: number): number {
  return Math.max(256, Math.round(Math.max(width, height) / 4))
}

/** One step of `]`: about 20% larger, at least 1 px. */
export function biggerBrush(size: number, max: number): number {
  return Math.min(max, Math.max(size + 1, Math.round(size * 1.2)))
}

/** One step of `[`: about 20% smaller, at least 1 px. */
export function smallerBrush(size: number): number {
  return Math.max(MIN_BRUSH, Math.min(size - 1, Math.round(size / 1.2)))
}
