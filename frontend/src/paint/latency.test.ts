import { describe, expect, it } from 'vitest'
import { LatencyBook, type DocumentView } from './latency'

const doc = (revision: number, status: string, blob: string | null = null): DocumentView => ({
  revision,
  layers: [{ id: 'L2', status, blob }],
})

describe('LatencyBook', () => {
  it('times a live layer from the end of the saved stroke to its new pixels shown', () => {
    const book = new LatencyBook()
    expect(book.lastStrokeEnd).toBeNull()
    book.strokeEnded(1000)
    book.strokeEnded(1200)
    book.saved(['L2'], book.lastStrokeEnd!, 7)
    // The save's own revision (the layer queued) and earlier ones are not the new pixels.
    expect(book.arrivals(doc(7, 'ready', 'old'))).toEqual([])
    expect(book.arrivals(doc(8, 'running'))).toEqual([])
    const [arrival] = book.arrivals(doc(9, 'ready', 'new'))
    expect(arrival.blob).toBe('new')
    // Once: a later change of the document while the pixels load does not count it again.
    expect(book.arrivals(doc(10, 'ready', 'new'))).toEqual([])
    expect(book.latency('L2')).toBeNull()
    expect(book.shown(arrival.wait, 1820)).toBeCloseTo(0.62)
    expect(book.latency('L2')).toBeCloseTo(0.62)
  })

  it('lets a newer save replace the wait, yet counts pixels of the older one that did show', () => {
    const book = new LatencyBook()
    book.saved(['L2'], 100, 3)
    const [old] = book.arrivals(doc(4, 'ready', 'a'))
    book.saved(['L2'], 900, 5)
    expect(book.shown(old.wait, 1100)).toBeCloseTo(1)
    const [next] = book.arrivals(doc(6, 'ready', 'b'))
    expect(next.wait.since).toBe(900)
    expect(book.shown(next.wait, 1400)).toBeCloseTo(0.5)
  })

  it('stops waiting for a layer that failed or was deleted, or whose pixels did not load', () => {
    const book = new LatencyBook()
    book.saved(['L2'], 0, 1)
    expect(book.arrivals(doc(2, 'failed'))).toEqual([])
    expect(book.arrivals(doc(3, 'ready', 'x'))).toEqual([])
    book.saved(['L2'], 0, 1)
    expect(book.arrivals({ revision: 2, layers: [] })).toEqual([])
    book.saved(['L2'], 0, 1)
    const [lost] = book.arrivals(doc(2, 'ready', 'x'))
    book.drop(lost.wait)
    expect(book.arrivals(doc(3, 'ready', 'y'))).toEqual([])
    expect(book.latency('L2')).toBeNull()
  })
})
