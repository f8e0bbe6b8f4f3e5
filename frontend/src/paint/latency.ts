/* Live mode's latency: from the end of a stroke to the live layer's new pixels on the canvas. A
 * save sent after a stroke ends names the project's revision it made; the live layer's pixels
 * are new once a later revision has it ready (an earlier run, superseded, never counts). */

/** What the book reads of a project. */
export interface DocumentView {
  revision: number
  layers: readonly { id: string; status: string; blob: string | null }[]
}

/** A live layer waiting for the pixels of a save. */
export interface Wait {
  layer: string
  /** When the last stroke in the save ended (ms, performance.now()). */
  since: number
  /** The revision the save made. */
  after: number
  /** Its new pixels have arrived and are being drawn. */
  arrived: boolean
}

export class LatencyBook {
  private strokeEnd: number | null = null
  private readonly waits = new Map<string, Wait>()
  private readonly last = new Map<string, number>()

  /** A stroke (or an undo of one) ended at `at`. */
  strokeEnded(at: number): void {
    this.strokeEnd = at
  }

  /** When the last stroke ended; null before any. */
  get lastStrokeEnd(): number | null {
    return this.strokeEnd
  }

  /** A save of the strokes up to one that ended at `since` made revision `after` and re-runs
   * these live layers. */
  saved(layers: readonly string[], since: number, after: number): void {
    for (const layer of layers) this.waits.set(layer, { layer, since, after, arrived: false })
  }

  /** The waits whose layer is now ready in a revision after its save, with its blob; each once.
   * A layer that failed or went stops waiting. */
  arrivals(project: DocumentView): { wait: Wait; blob: string }[] {
    const found: { wait: Wait; blob: string }[] = []
    for (const wait of this.waits.values()) {
      if (wait.arrived || project.revision <= wait.after) continue
      const layer = project.layers.find((l) => l.id === wait.layer)
      if (layer === undefined || layer.status === 'failed') this.waits.delete(wait.layer)
      else if (layer.status === 'ready' && layer.blob !== null) {
        wait.arrived = true
        found.push({ wait, blob: layer.blob })
      }
    }
    return found
  }

  /** The wait's pixels are on the canvas at `at`: the latency in seconds. */
  shown(wait: Wait, at: number): number {
    const seconds = (at - wait.since) / 1000
    this.last.set(wait.layer, seconds)
    this.drop(wait)
    return seconds
  }

  /** Stops waiting (its pixels could not be shown). */
  drop(wait: Wait): void {
    if (this.waits.get(wait.layer) === wait) this.waits.delete(wait.layer)
  }

  /** The latency of the layer's last update, in seconds; null before one. */
  latency(layer: string): number | null {
    return this.last.get(layer) ?? null
  }
}
