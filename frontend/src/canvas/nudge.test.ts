import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { IDENTITY } from './placement'
import { Nudger, type Nudged } from './nudge'

describe('Nudger', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('commits a burst of nudges once, 300 ms after the last', () => {
    const commits: Nudged[] = []
    const nudger = new Nudger((n) => commits.push(n))
    nudger.nudge('L1', IDENTITY, 1, 0)
    vi.advanceTimersByTime(200)
    nudger.nudge('L1', IDENTITY, 1, 0)
    vi.advanceTimersByTime(200)
    expect(nudger.nudge('L1', IDENTITY, 0, -10)).toMatchObject({ x: 2, y: -10 })
    vi.advanceTimersByTime(299)
    expect(commits).toEqual([])
    vi.advanceTimersByTime(1)
    expect(commits).toEqual([{ layer: 'L1', placement: { ...IDENTITY, x: 2, y: -10 } }])
    expect(nudger.pending).toBeNull()
  })

  it('commits the burst of one layer before nudging another', () => {
    const commits: Nudged[] = []
    const nudger = new Nudger((n) => commits.push(n))
    nudger.nudge('L1', { ...IDENTITY, x: 5 }, 1, 0)
    nudger.nudge('L2', IDENTITY, 0, 1)
    expect(commits).toEqual([{ layer: 'L1', placement: { ...IDENTITY, x: 6 } }])
    expect(nudger.pending).toEqual({ layer: 'L2', placement: { ...IDENTITY, y: 1 } })
  })

  it('starts a new burst from where the layer is now', () => {
    const commits: Nudged[] = []
    const nudger = new Nudger((n) => commits.push(n))
    nudger.nudge('L1', IDENTITY, 1, 0)
    nudger.flush()
    nudger.nudge('L1', { ...IDENTITY, x: 40 }, 1, 0)
    nudger.flush()
    expect(commits.map((c) => c.placement.x)).toEqual([1, 41])
  })

  it('keeps the layer within the limit', () => {
    const nudger = new Nudger(() => undefined)
    const limit = (p: typeof IDENTITY) => ({ ...p, x: Math.min(p.x, 3) })
    nudger.nudge('L1', IDENTITY, 2, 0, limit)
    expect(nudger.nudge('L1', IDENTITY, 2, 0, limit).x).toBe(3)
    expect(nudger.nudge('L1', IDENTITY, -1, 0, limit).x).toBe(2)
  })

  it('drops a cancelled burst', () => {
    const commit = vi.fn()
    const nudger = new Nudger(commit)
    nudger.nudge('L1', IDENTITY, 1, 0)
    nudger.cancel()
    vi.advanceTimersByTime(1000)
    expect(commit).not.toHaveBeenCalled()
  })
})
