import { describe, expect, it } from 'vitest'
import { SnapshotHistory, historyDepth } from './history'

describe('SnapshotHistory', () => {
  it('undoes and redoes changes in order', () => {
    const history = new SnapshotHistory<string>(10)
    expect(history.canUndo).toBe(false)
    history.record('empty')
    history.record('one stroke')
    expect(history.undo('two strokes')).toBe('one stroke')
    expect(history.undo('one stroke')).toBe('empty')
    expect(history.undo('empty')).toBeNull()
    expect(history.redo('empty')).toBe('one stroke')
    expect(history.redo('one stroke')).toBe('two strokes')
    expect(history.redo('two strokes')).toBeNull()
  })

  it('drops the redo list when a new change is made', () => {
    const history = new SnapshotHistory<string>(10)
    history.record('a')
    expect(history.undo('b')).toBe('a')
    expect(history.canRedo).toBe(true)
    history.record('a')
    expect(history.canRedo).toBe(false)
  })

  it('forgets the oldest snapshots beyond its depth', () => {
    const history = new SnapshotHistory<number>(2)
    for (const n of [1, 2, 3]) history.record(n)
    expect(history.undo(4)).toBe(3)
    expect(history.undo(3)).toBe(2)
    expect(history.undo(2)).toBeNull()
  })
})

describe('historyDepth', () => {
  it('keeps many snapshots of small masks and fewer of large ones, never none', () => {
    expect(historyDepth(512, 512)).toBe(100)
    expect(historyDepth(4096, 4096)).toBe(4)
    expect(historyDepth(100000, 100000)).toBe(1)
  })
})
