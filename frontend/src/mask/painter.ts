import { imageData } from '../canvas/images'
import { MASK_TINT, invertOverlay, maskToOverlay, overlayToMask } from './pixels'

export type MaskTool = 'brush' | 'eraser'

export interface Point {
  x: number
  y: number
}

/** A mask being painted at the project's resolution, held as a tinted overlay canvas. */
export class MaskPainter {
  readonly canvas: HTMLCanvasElement
  tool: MaskTool = 'brush'
  size = 40
  /** Bumped on every change, for views that redraw. */
  version = 0
  private readonly listeners = new Set<() => void>()

  constructor(width: number, height: number) {
    this.canvas = document.createElement('canvas')
    this.canvas.width = width
    this.canvas.height = height
  }

  private get context(): CanvasRenderingContext2D {
    return this.canvas.getContext('2d', { willReadFrequently: true })!
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private changed(): void {
    this.version += 1
    for (const listener of [...this.listeners]) listener()
  }

  setTool(tool: MaskTool): void {
    this.tool = tool
    this.changed()
  }

  setSize(size: number): void {
    this.size = size
    this.changed()
  }

  /** Starts from an existing mask (a greyscale image). */
  load(mask: HTMLImageElement): void {
    const { width, height } = this.canvas
    const pixels = maskToOverlay(imageData(mask, width, height).data, MASK_TINT)
    this.context.putImageData(new ImageData(new Uint8ClampedArray(pixels), width, height), 0, 0)
    this.changed()
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
    this.context.clearRect(0, 0, this.canvas.width, this.canvas.height)
    this.changed()
  }

  invert(): void {
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
