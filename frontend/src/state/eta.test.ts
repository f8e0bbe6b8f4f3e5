import { describe, expect, it } from 'vitest'
import { formatLeft, secondsLeft } from './eta'

describe('secondsLeft', () => {
  it('extrapolates the pace since the first step seen', () => {
    expect(secondsLeft({ step: 2, at: 1000 }, { step: 12, at: 6000 }, 40)).toBe(14)
  })

  it('is null without a pace yet', () => {
    expect(secondsLeft({ step: 2, at: 1000 }, { step: 2, at: 1000 }, 40)).toBeNull()
    expect(secondsLeft({ step: 2, at: 1000 }, { step: 3, at: 1000 }, 40)).toBeNull()
  })

  it('is zero at the last step', () => {
    expect(secondsLeft({ step: 1, at: 0 }, { step: 40, at: 3900 }, 40)).toBe(0)
  })
})

describe('formatLeft', () => {
  it('says seconds, then minutes and seconds', () => {
    expect(formatLeft(0.2)).toBe('< 1 s left')
    expect(formatLeft(14.4)).toBe('14 s left')
    expect(formatLeft(125)).toBe('2 min 5 s left')
    expect(formatLeft(120)).toBe('2 min left')
  })
})
