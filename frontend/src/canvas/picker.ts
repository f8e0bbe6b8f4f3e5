import { createContext, useContext } from 'react'
import { appendPoint, boxText, parseBox, parsePoints, pixelAt, type Box, type PickKind, type PickPoint } from './pickFormat'
import { Versioned } from '../state/versioned'

/** A form field the canvas writes to: its current text and how to change it. */
export interface PickTarget {
  value: string
  onChange: (value: string) => void
}

/** Connects the open op form's `points` and `box` fields to the canvas: while picking, a click
 * on the canvas adds a point (Shift+click: "not this"), a drag draws the box. */
export class CanvasPicker extends Versioned {
  /** Whether picking was turned on (it picks only while a field is there to write to). */
  active = false
  private readonly targets = new Map<PickKind, PickTarget>()

  /** A field offers itself (again, with its current value); the returned function withdraws it. */
  register(kind: PickKind, target: PickTarget): () => void {
    this.targets.set(kind, target)
    this.changed()
    return () => {
      if (this.targets.get(kind) !== target) return
      this.targets.delete(kind)
      this.changed()
    }
  }

  /** Whether canvas clicks and drags pick (instead of panning). */
  get picking(): boolean {
    return this.active && this.targets.size > 0
  }

  setActive(active: boolean): void {
    if (this.active === active || (active && this.targets.size === 0)) return
    this.active = active
    this.changed()
  }

  get kinds(): PickKind[] {
    return [...this.targets.keys()]
  }

  get points(): PickPoint[] {
    return parsePoints(this.targets.get('points')?.value ?? '')
  }

  get box(): Box | null {
    return parseBox(this.targets.get('box')?.value ?? '')
  }

  /** A click at canvas point `p` on an image of `width` x `height`. */
  click(p: { x: number; y: number }, positive: boolean, width: number, height: number): void {
    const target = this.targets.get('points')
    if (target === undefined) return
    target.onChange(appendPoint(target.value, { ...pixelAt(p, width, height), label: positive ? 1 : 0 }))
  }

  /** A drag from `a` to `b`; false when it made no box (no box field, or no area). */
  drag(a: { x: number; y: number }, b: { x: number; y: number }, width: number, height: number): boolean {
    const target = this.targets.get('box')
    const text = boxText(a, b, width, height)
    if (target === undefined || text === null) return false
    target.onChange(text)
    return true
  }
}

export const PickerContext = createContext<CanvasPicker | null>(null)

export function usePicker(): CanvasPicker | null {
  return useContext(PickerContext)
}
