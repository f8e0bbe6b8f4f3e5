import { imageData } from '../canvas/images'
import type { Ink, Tip } from '../paint/brush'
import { Painter, canvasPng, type PaintTool } from '../paint/painter'
import { MASK_TINT, invertOverlay, maskToOverlay, overlayToMask } from './pixels'

const MASK_TOOLS: readonly PaintTool[] = ['brush', 'eraser']

/** A mask being painted at the project's resolution, held as a tinted overlay canvas (a hard
 * brush of the tint; the eraser takes it away). */
export class MaskPainter extends Painter {
  readonly tools = MASK_TOOLS
  readonly inStack = false

  protected tip(): Tip {
    return { size: this.size, hardness: 1 }
  }

  protected ink(): Ink {
    return { colour: MASK_TINT, opacity: 1, erase: this.tool === 'eraser' }
  }

  /** Starts from an existing mask (a greyscale image). */
  load(mask: HTMLImageElement): void {
    const { width, height } = this.canvas
    const pixels = maskToOverlay(imageData(mask, width, height).data, MASK_TINT)
    this.context.putImageData(new ImageData(new Uint8ClampedArray(pixels), width, height), 0, 0)
    this.changed()
  }

  invert(): void {
    this.checkpoint()
    const { width, height } = this.canvas
    const data = this.context.getImageData(0, 0, width, height)
    invertOverlay(data.data, MASK_TINT)
    this.context.putImageData(data, 0, 0)
    this.changed()
    this.endEdit()
  }

  /** The mask as a greyscale PNG (white = selected), as the server stores masks. */
  toPng(): Promise<Blob> {
    const { width, height } = this.canvas
    const out = document.createElement('canvas')
    out.width = width
    out.height = height
    const gray = overlayToMask(this.context.getImageData(0, 0, width, height).data)
    out.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(gray), width, height), 0, 0)
    return canvasPng(out, 'mask')
  }
}
