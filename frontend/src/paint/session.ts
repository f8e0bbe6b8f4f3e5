import type { Layer } from '../api/types'
import type { AppController } from '../state/controller'
import type { ColourPainter } from './colourPainter'
import { Debouncer } from './debounce'
import { LIVE_DELAY_MS, type LiveMode } from './live'
import type { PaintEdit } from './painter'

/** Painting one paint layer: its strokes are saved (one undo step each save; the layers made
 * from it re-run) when the user is done, and, while a layer made from it is live, a moment
 * after each stroke. Saves run one after another, and pixels already saved are not sent again. */
export class PaintSession {
  readonly painter: ColourPainter
  readonly target: Layer
  private readonly controller: AppController
  private readonly live: LiveMode
  private readonly debounce = new Debouncer(LIVE_DELAY_MS)
  private readonly stopListening: () => void
  private edits = 0
  private savedEdits = 0
  private queue: Promise<void> = Promise.resolve()

  constructor(painter: ColourPainter, target: Layer, controller: AppController, live: LiveMode) {
    this.painter = painter
    this.target = target
    this.controller = controller
    this.live = live
    this.stopListening = painter.onEdit((edit) => this.onEdit(edit))
  }

  private followers(): string[] {
    return this.live.followers(this.controller.state.project?.layers ?? [], this.target.id)
  }

  private onEdit(edit: PaintEdit): void {
    if (edit.kind === 'start') {
      this.debounce.cancel()
      return
    }
    this.edits += 1
    this.live.book.strokeEnded(edit.at)
    if (this.followers().length > 0) this.debounce.schedule(() => void this.save())
  }

  /** Saves the pixels, after any save under way. */
  save(): Promise<void> {
    this.queue = this.queue.then(() => this.saveNow())
    return this.queue
  }

  private async saveNow(): Promise<void> {
    const edits = this.edits
    if (edits === this.savedEdits) return
    const since = this.live.book.lastStrokeEnd
    const followers = this.followers()
    const png = await this.controller.guard(() => this.painter.toPng())
    if (png === undefined) return
    const result = await this.controller.replaceAsset(this.target.id, png, this.target.name)
    if (result === undefined) return
    this.savedEdits = edits
    const rerun = followers.filter((id) => result.layers.includes(id))
    if (since !== null) this.live.saved(rerun, since, result.project.revision)
  }

  /** Saves what is not saved yet; the session is over. */
  async finish(): Promise<void> {
    this.debounce.cancel()
    this.stopListening()
    await this.save()
  }
}
