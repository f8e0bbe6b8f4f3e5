import { afterEach, beforeEach, expect, it, vi } from 'vitest'
import { Debouncer } from './debounce'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

it('runs the last task once the delay passes without another', () => {
  const debounce = new Debouncer(300)
  const ran: string[] = []
  debounce.schedule(() => ran.push('first'))
  vi.advanceTimersByTime(200)
  debounce.schedule(() => ran.push('second'))
  vi.advanceTimersByTime(299)
  expect(ran).toEqual([])
  expect(debounce.pending).toBe(true)
  vi.advanceTimersByTime(1)
  expect(ran).toEqual(['second'])
  expect(debounce.pending).toBe(false)
})

it('runs nothing once cancelled (a new stroke began)', () => {
  const debounce = new Debouncer(300)
  const task = vi.fn()
  debounce.schedule(task)
  debounce.cancel()
  vi.advanceTimersByTime(1000)
  expect(task).not.toHaveBeenCalled()
})
