import type { Layer } from '../api/types'

/** The stack position (0 = bottom) that puts `dragged` where `target` is, or null for no move. */
export function dropPosition(layers: Layer[], dragged: string, target: string): number | null {
  const from = layers.findIndex((l) => l.id === dragged)
  const to = layers.findIndex((l) => l.id === target)
  if (from < 0 || to < 0 || from === to) return null
  return to
}

/** The stack position one step up (towards the top) or down, or null at the end of the stack. */
export function stepPosition(layers: Layer[], id: string, up: boolean): number | null {
  const from = layers.findIndex((l) => l.id === id)
  if (from < 0) return null
  const to = from + (up ? 1 : -1)
  return to < 0 || to >= layers.length ? null : to
}
