/** Undo and redo of mask strokes: snapshots of the mask taken before each change. */

/** The memory the snapshots of one painting session may hold. */
const HISTORY_BYTES = 256 * 2 ** 20
const MAX_DEPTH = 100

/** How many snapshots of a `width` x `height` RGBA mask fit the budget (at least one). */
export function historyDepth(width: number, height: number): number {
  return Math.max(1, Math.min(MAX_DEPTH, Math.floor(HISTORY_BYTES / Math.max(1, width * height * 4))))
}

export class SnapshotHistory<T> {
  private past: T[] = []
  private future: T[] = []
  private readonly depth: number

  constructor(depth: number) {
    this.depth = depth
  }

  get canUndo(): boolean {
    return this.past.length > 0
  }

  get canRedo(): boolean {
    return this.future.length > 0
  }

  /** Keeps `before`, the state a change is about to replace; a new change drops the redo list. */
  record(before: T): void {
    this.past.push(before)
    if (this.past.length > this.depth) this.past.shift()
    this.future = []
  }

  /** The state to go back to from `current`, or null when there is none. */
  undo(current: T): T | null {
    const previous = this.past.pop()
    if (previous === undefined) return null
    this.future.push(current)
    return previous
  }

  /** The state to go forward to from `current`, or null when there is none. */
  redo(current: T): T | null {
    const next = this.future.pop()
    if (next === undefined) return null
    this.past.push(current)
    return next
  }
}
