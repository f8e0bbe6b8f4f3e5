import type { Placement } from '../api/types'

export const NUDGE_DELAY_MS = 300

export interface Nudged {
  layer: string
  placement: Placement
}

/** Arrow-key nudges in a burst add up to one move: the placement is committed (one PATCH, one
 * undo step) once no nudge came for `delay` ms, or at once by `flush` (another layer, a drag). */
export class Nudger {
  private held: Nudged | null = null
  private timer: ReturnType<typeof setTimeout> | null = null
  private readonly commit: (nudged: Nudged) => void
  private readonly delay: number

  constructor(commit: (nudged: Nudged) => void, delay = NUDGE_DELAY_MS) {
    this.commit = commit
    this.delay = delay
  }

  /** The burst not yet committed, if any. */
  get pending(): Nudged | null {
    return this.held
  }

  /** Moves `layer` by (dx, dy) from where the burst left it, else from `from`, kept within
   * `limit`; the new placement. */
  nudge(layer: string, from: Placement, dx: number, dy: number, limit: (p: Placement) => Placement = (p) => p): Placement {
    if (this.held !== null && this.held.layer !== layer) this.flush()
    const base = this.held?.placement ?? from
    const placement = limit({ ...base, x: base.x + dx, y: base.y + dy })
    this.held = { layer, placement }
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = setTimeout(() => this.flush(), this.delay)
    return placement
  }

  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    const held = this.held
    this.held = null
    if (held !== null) this.commit(held)
  }

  /** Drops the burst without committing it (the editor closes). */
  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.held = null
  }
}
