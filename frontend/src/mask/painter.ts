import { imageData } from '../canvas/images'
import { SnapshotHistory, historyDepth } from './history'
import { MIN_BRUSH, maxBrush } from './keys'
import { MASK_TINT, invertOverlay, maskToOverlay, overlayToMask } from './pixels'
import { Versioned } from '../state/versioned'

export type MaskTool = 'brush' | 'eraser'

export interface Point {
  x: number
  y: number
}

/** A mask being painted at the project's resolution, held as a tinted overlay canvas. */
export class MaskPainter extends Versioned {
  readonly canvas: HTMLCanvasElement
  tool: MaskTool = 'brush'
  size = 40
  /** The largest brush size, in mask (image) pixels. */
  readonly maxSize: number
  private readonly history: SnapshotHistory<ImageData>

  constructor(width: number, height: number) {
    super()
    this.canvas = document.createElement('canvas')
    this.canvas.width = width
    this.canvas.height = height
    this.maxSize = maxBrush(width, height)
    this.history = new SnapshotHistory(historyDepth(width, height))
  }

  get canUndo(): boolean {
    return this.history.canUndo
  }

  get canRedo(): boolean {
    return this.history.canRedo
  }

  private snapshot(): ImageData {
    return this.context.getImageData(0, 0, this.canvas.width, this.canvas.height)
  }

  /** Remembers the mask as it is before a change, for undo. */
  private checkpoint(): void {
    this.history.record(this.snapshot())
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
  }

  private get context(): CanvasRenderingContext2D {
    return this.canvas.getContext('2d', { willReadFrequently: true })!
  }

  setTool(tool: MaskTool): void {
    this.tool = tool
    this.changed()
  }

  setSize(size: number): void {
    this.size = Math.min(this.maxSize, Math.max(MIN_BRUSH, Math.round(size)))
    this.changed()
  }

  /** Starts from an existing mask (a greyscale image). */
  load(mask: HTMLImageElement): void {
    const { width, height } = this.canvas
    const pixels = maskToOverlay(imageData(mask, width, height).data, MASK_TINT)
    this.context.putImageData(new ImageData(new Uint8ClampedArray(pixels), width, height), 0, 0)
    this.changed()
  }

  /** Starts a stroke (one undo step) with a dot at `at`. */
  startStroke(at: Point): void {
    this.checkpoint()
    this.stroke(at, at)
  }

  /** Paints (or erases) a round-capped segment; `from === to` paints a dot. */
  stroke(from: Point, to: Point): void {
    const context = this.context
    context.save()
    context.globalCompositeOperation = this.tool === 'brush' ? 'source-over' : 'destination-out'
    context.strokeStyle = `rgb(${MASK_TINT.join(',')})`
    context.lineWidth = this.size
    context.lineCap = 'round'
    context.lineJoin = 'round'
    context.beginPath()
    context.moveTo(from.x, from.y)
    context.lineTo(to.x + (from.x === to.x && from.y === to.y ? 0.01 : 0), to.y)
    context.stroke()
    context.restore()
    this.changed()
  }

  clear(): void {
    this.checkpoint()
    this.context.clearRect(0, 0, this.canvas.width, this.canvas.height)
    this.changed()
  }

  invert(): void {
    this.checkpoint()
    const { width, height } = this.canvas
    const data = this.context.getImageData(0, 0, width, height)
    invertOverlay(data.data, MASK_TINT)
    this.context.putImageData(data, 0, 0)
    this.changed()
  }

  /** The mask as a greyscale PNG (white = selected), as the server stores masks. */
  toPng(): Promise<Blob> {
    const { width, height } = this.canvas
    const out = document.createElement('canvas')
    out.width = width
    out.height = height
    const gray = overlayToMask(this.context.getImageData(0, 0, width, height).data)
    out.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(gray), width, height), 0, 0)
    return new Promise((resolve, reject) =>
      out.toBlob((blob) => (blob === null ? reject(new Error('could not encode the mask')) : resolve(blob)), 'image/png'),
    )
  }
}
