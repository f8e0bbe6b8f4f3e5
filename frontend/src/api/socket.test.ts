import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { EventSocket, defaultBackoff, eventsUrl, type ConnectionState } from './socket'
import type { ServerEvent } from './types'

class FakeSocket {
  static instances: FakeSocket[] = []
  readyState: number = WebSocket.CONNECTING
  sent: string[] = []
  onopen: (() => void) | null = null
  onmessage: ((m: MessageEvent) => void) | null = null
  onclose: (() => void) | null = null

  readonly url: string

  constructor(url: string) {
    this.url = url
    FakeSocket.instances.push(this)
  }

  open() {
    this.readyState = WebSocket.OPEN
    this.onopen?.()
  }

  receive(data: unknown) {
    this.onmessage?.({ data: typeof data === 'string' ? data : JSON.stringify(data) } as MessageEvent)
  }

  send(text: string) {
    this.sent.push(text)
  }

  close() {
    this.readyState = WebSocket.CLOSED
    this.onclose?.()
  }
}

function setup() {
  const events: ServerEvent[] = []
  const states: [ConnectionState, boolean][] = []
  const socket = new EventSocket({
    url: 'ws://host/api/ws',
    onEvent: (e) => events.push(e),
    onState: (s, r) => states.push([s, r]),
    backoff: () => 100,
    createSocket: (url) => new FakeSocket(url) as unknown as WebSocket,
  })
  return { socket, events, states }
}

beforeEach(() => {
  FakeSocket.instances = []
  vi.useFakeTimers()
})

afterEach(() => {
  vi.useRealTimers()
})

describe('EventSocket', () => {
  it('delivers JSON events and ignores anything else', () => {
    const { socket, events } = setup()
    socket.start()
    const fake = FakeSocket.instances[0]
    fake.open()
    fake.receive({ type: 'project.changed', project: 'p1', revision: 2 })
    fake.receive('not json')
    fake.receive({ no: 'type' })
    expect(events).toEqual([{ type: 'project.changed', project: 'p1', revision: 2 }])
  })

  it('reconnects after a drop and says it reconnected', () => {
    const { socket, states } = setup()
    socket.start()
    FakeSocket.instances[0].open()
    FakeSocket.instances[0].close()
    expect(FakeSocket.instances).toHaveLength(1)
    vi.advanceTimersByTime(100)
    expect(FakeSocket.instances).toHaveLength(2)
    FakeSocket.instances[1].open()
    expect(states).toEqual([
      ['connecting', false],
      ['open', false],
      ['closed', false],
      ['connecting', false],
      ['open', true],
    ])
  })

  it('stops reconnecting once stopped', () => {
    const { socket } = setup()
    socket.start()
    FakeSocket.instances[0].open()
    socket.stop()
    vi.advanceTimersByTime(10_000)
    expect(FakeSocket.instances).toHaveLength(1)
  })

  it('sends cancel messages only while open', () => {
    const { socket } = setup()
    socket.start()
    expect(socket.cancel('j1')).toBe(false)
    FakeSocket.instances[0].open()
    expect(socket.cancel('j1')).toBe(true)
    expect(FakeSocket.instances[0].sent).toEqual(['{"type":"cancel","job":"j1"}'])
  })
})

it('backs off exponentially up to 10 s', () => {
  expect([0, 1, 2, 10].map(defaultBackoff)).toEqual([500, 1000, 2000, 10_000])
})

it('builds the events URL from the page location', () => {
  expect(eventsUrl({ protocol: 'http:', host: '127.0.0.1:8000' })).toBe('ws://127.0.0.1:8000/api/ws')
  expect(eventsUrl({ protocol: 'https:', host: 'x.test' })).toBe('wss://x.test/api/ws')
})
