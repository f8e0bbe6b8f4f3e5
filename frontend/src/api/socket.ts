import type { ServerEvent } from './types'

export type ConnectionState = 'connecting' | 'open' | 'closed'

export interface SocketOptions {
  url: string
  onEvent: (event: ServerEvent) => void
  /** Called on every state change; `open` after a reconnect is the moment to reload state. */
  onState?: (state: ConnectionState, reconnected: boolean) => void
  /** The delay before reconnect attempt `n` (0-based). */
  backoff?: (attempt: number) => number
  createSocket?: (url: string) => WebSocket
}

export const defaultBackoff = (attempt: number): number => Math.min(500 * 2 ** attempt, 10_000)

/** The `/api/ws` URL on the page's own host (ws: or wss: to match the page). */
export function eventsUrl(location: Pick<Location, 'protocol' | 'host'>): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${scheme}//${location.host}/api/ws`
}

function isServerEvent(value: unknown): value is ServerEvent {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
}

/** A WebSocket to the event stream that reconnects with backoff until closed. */
export class EventSocket {
  private socket: WebSocket | null = null
  private attempt = 0
  private everOpened = false
  private stopped = false
  private timer: ReturnType<typeof setTimeout> | null = null
  private readonly options: Required<SocketOptions>

  constructor(options: SocketOptions) {
    this.options = {
      onState: () => undefined,
      backoff: defaultBackoff,
      createSocket: (url) => new WebSocket(url),
      ...options,
    }
  }

  start(): void {
    this.stopped = false
    this.connect()
  }

  stop(): void {
    this.stopped = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    const socket = this.socket
    this.socket = null
    socket?.close()
  }

  /** Asks the server to cancel a job; false when the socket is not open (use REST then). */
  cancel(jobId: string): boolean {
    if (this.socket?.readyState !== WebSocket.OPEN) return false
    this.socket.send(JSON.stringify({ type: 'cancel', job: jobId }))
    return true
  }

  private connect(): void {
    const { url, createSocket, onState, onEvent } = this.options
    onState('connecting', false)
    const socket = createSocket(url)
    this.socket = socket
    socket.onopen = () => {
      const reconnected = this.everOpened
      this.everOpened = true
      this.attempt = 0
      onState('open', reconnected)
    }
    socket.onmessage = (message: MessageEvent) => {
      if (typeof message.data !== 'string') return
      let data: unknown
      try {
        data = JSON.parse(message.data)
      } catch {
        return
      }
      if (isServerEvent(data)) onEvent(data)
    }
    socket.onclose = () => {
      if (this.socket !== socket) return
      this.socket = null
      onState('closed', false)
      if (!this.stopped) this.scheduleReconnect()
    }
  }

  private scheduleReconnect(): void {
    const delay = this.options.backoff(this.attempt)
    this.attempt += 1
    this.timer = setTimeout(() => {
      this.timer = null
      if (!this.stopped) this.connect()
    }, delay)
  }
}
