/* What every painter shares (the mask painter and the colour painter): a canvas of the layer's
 * own pixels, the brush and eraser, strokes as the brush's arithmetic lays them down (brush.ts),
 * stroke undo and redo, and word to listeners when a stroke (or an undo) changed the pixels. */
import type { Placement } from '../api/types'
import { IDENTITY } from '../canvas/placement'
import { SnapshotHistory, historyDepth } from '../mask/history'
import { MIN_BRUSH, maxBrush } from '../mask/keys'
import { Versioned } from '../state/versioned'
import { composeStroke, stampSegment, type Ink, type Point, type Tip } from './brush'
import { toLayer } from './frame'

export type PaintTool = 'brush' | 'eraser' | 'picker'

/** A change to the pixels: a stroke begins, or a change is over (a stroke ended, an undo, a
 * clear), at `at` (performance.now()). */
export type PaintEdit = { kind: 'start' } | { kind: 'end'; at: number }

/** A layer's pixels as a PNG. */
export function canvasPng(canvas: HTMLCanvasElement, what: string): Promise<Blob> {
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob === null ? reject(new Error(`could not encode the ${what}`)) : resolve(blob)), 'image/png'),
  )
}

interface Stroke {
  /** The pixels when it began. */
  base: ImageData
  /** How much of each pixel it covers so far (255 = fully). */
  cover: Uint8Array
  /** Its last point, in layer pixels. */
  last: Point
}

export abstract class Painter extends Versioned {
  readonly canvas: HTMLCanvasElement
  /** Where the painted layer is drawn on the canvas: strokes go through it. */
  readonly placement: Placement
  tool: PaintTool = 'brush'
  /** The brush's diameter in the layer's pixels. */
  size = 40
  readonly maxSize: number
  /** The tools this painter offers (a mask has no colour to pick). */
  abstract readonly tools: readonly PaintTool[]
  /** Drawn in the layer stack in the painted layer's place (a colour layer), or over everything
   * (a mask's tint). */
  abstract readonly inStack: boolean
  private readonly history: SnapshotHistory<ImageData>
  private current: Stroke | null = null
  private readonly editListeners = new Set<(edit: PaintEdit) => void>()

  constructor(width: number, height: number, placement: Placement = IDENTITY) {
    super()
    this.canvas = document.createElement('canvas')
    this.canvas.width = width
    this.canvas.height = height
    this.placement = placement
    this.maxSize = maxBrush(width, height)
    this.history = new SnapshotHistory(historyDepth(width, height))
  }

  /** The brush's tip and ink now. */
  protected abstract tip(): Tip
  protected abstract ink(): Ink

  get canUndo(): boolean {
    return this.history.canUndo
  }

  get canRedo(): boolean {
    return this.history.canRedo
  }

  get stroking(): boolean {
    return this.current !== null
  }

  /** Listens to changes of the pixels; the unsubscribe. */
  onEdit(listener: (edit: PaintEdit) => void): () => void {
    this.editListeners.add(listener)
    return () => this.editListeners.delete(listener)
  }

  protected edited(edit: PaintEdit): void {
    for (const listener of [...this.editListeners]) listener(edit)
  }

  protected endEdit(): void {
    this.edited({ kind: 'end', at: performance.now() })
  }

  protected get context(): CanvasRenderingContext2D {
    return this.canvas.getContext('2d', { willReadFrequently: true })!
  }

  private snapshot(): ImageData {
    return this.context.getImageData(0, 0, this.canvas.width, this.canvas.height)
  }

  /** Remembers the pixels as they are before a change, for undo; them. */
  protected checkpoint(): ImageData {
    const before = this.snapshot()
    this.history.record(before)
    return before
  }

  /** Takes back the last stroke (or clear, or invert). */
  undo(): void {
    this.restore(this.history.undo(this.snapshot()))
  }

  redo(): void {
    this.restore(this.history.redo(this.snapshot()))
  }

  private restore(data: ImageData | null): void {
    if (data === null) return
    this.context.putImageData(data, 0, 0)
    this.changed()
    this.endEdit()
  }

  setTool(tool: PaintTool): void {
    if (!this.tools.includes(tool)) return
    this.tool = tool
    this.changed()
  }

  setSize(size: number): void {
    this.size = Math.min(this.maxSize, Math.max(MIN_BRUSH, Math.round(size)))
    this.changed()
  }

  /** A canvas point in the layer's pixels. */
  toLayer(p: Point): Point {
    return toLayer(p, this.placement, this.canvas)
  }

  /** Starts a stroke (one undo step) with a dot at canvas point `at`. */
  startStroke(at: Point): void {
    const { width, height } = this.canvas
    const p = this.toLayer(at)
    this.current = { base: this.checkpoint(), cover: new Uint8Array(width * height), last: p }
    this.edited({ kind: 'start' })
    this.paint(p, p)
  }

  /** Carries the stroke on to canvas point `to`. */
  stroke(to: Point): void {
    if (this.current === null) return
    const p = this.toLayer(to)
    this.paint(this.current.last, p)
    this.current.last = p
  }

  /** Ends the stroke in progress, if any. */
  endStroke(): void {
    if (this.current === null) return
    this.current = null
    this.endEdit()
  }

  private paint(from: Point, to: Point): void {
    const stroke = this.current!
    const { width, height } = this.canvas
    const rect = stampSegment(stroke.cover, width, height, from, to, this.tip())
    if (rect === null) return
    const pixels = composeStroke(stroke.base.data, stroke.cover, width, rect, this.ink())
    this.context.putImageData(new ImageData(pixels, rect.width, rect.height), rect.x, rect.y)
    this.changed()
  }

  clear(): void {
    this.checkpoint()
    this.context.clearRect(0, 0, this.canvas.width, this.canvas.height)
    this.changed()
    this.endEdit()
  }

  /** The layer's pixels as the server stores them. */
  abstract toPng(): Promise<Blob>
}
