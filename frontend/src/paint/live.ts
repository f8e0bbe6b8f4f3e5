/* Live mode (client-side, not part of the document): layers made from a paint layer that re-run
 * a moment after each stroke on it, so the picture follows the brush; and how long the last
 * update took to show. */
import { blobUrl } from '../api/client'
import type { Layer, Project } from '../api/types'
import { loadImage } from '../canvas/images'
import { descendants, inputIds } from '../state/dag'
import { PAINT_OP } from '../ops/catalog'
import type { Store } from '../state/store'
import { Versioned } from '../state/versioned'
import { LatencyBook } from './latency'

/** How long after the pointer is released the strokes are saved (a new stroke in the meantime
 * waits for its own release). */
export const LIVE_DELAY_MS = 300

/** The paint layers layer `id` is made from, directly or not, the nearest first. */
export function upstreamPaint(layers: readonly Layer[], id: string): string[] {
  const byId = new Map(layers.map((l) => [l.id, l]))
  const seen = new Set([id])
  const found: string[] = []
  let frontier = [id]
  while (frontier.length > 0) {
    const next: string[] = []
    for (const child of frontier) {
      for (const parent of Object.values(byId.get(child)?.recipe.inputs ?? {}).flatMap(inputIds)) {
        if (seen.has(parent)) continue
        seen.add(parent)
        next.push(parent)
        if (byId.get(parent)?.recipe.op === PAINT_OP) found.push(parent)
      }
    }
    frontier = next
  }
  return found
}

/** When a blob's pixels are ready to draw: loaded and decoded, and a frame later (the canvas
 * draws the same image, loaded at the same time). */
async function shownAt(blob: string): Promise<number> {
  const image = await loadImage(blobUrl(blob))
  await image.decode()
  await new Promise((resolve) => requestAnimationFrame(resolve))
  return performance.now()
}

export class LiveMode extends Versioned {
  private readonly on = new Set<string>()
  readonly book = new LatencyBook()
  private readonly store: Store<{ project: Project | null }, unknown>

  constructor(store: Store<{ project: Project | null }, unknown>) {
    super()
    this.store = store
  }

  isOn(layer: string): boolean {
    return this.on.has(layer)
  }

  set(layer: string, on: boolean): void {
    if (on) this.on.add(layer)
    else this.on.delete(layer)
    this.changed()
  }

  latency(layer: string): number | null {
    return this.book.latency(layer)
  }

  /** The live layers made (directly or not) from paint layer `paint`. */
  followers(layers: Layer[], paint: string): string[] {
    return [...descendants(layers, paint)].filter((id) => this.on.has(id))
  }

  /** A save of the strokes up to one that ended at `since` made revision `after`, re-running
   * these live layers: their latency is measured when their new pixels show. */
  saved(layers: readonly string[], since: number, after: number): void {
    this.book.saved(layers, since, after)
    this.check()
  }

  /** Measures arrivals as the document changes; the unsubscribe. */
  watch(): () => void {
    return this.store.subscribe(() => this.check())
  }

  private check(): void {
    const project = this.store.getState().project
    if (project === null) return
    for (const { wait, blob } of this.book.arrivals(project)) {
      shownAt(blob).then(
        (at) => {
          this.book.shown(wait, at)
          this.changed()
        },
        () => this.book.drop(wait),
      )
    }
  }
}
