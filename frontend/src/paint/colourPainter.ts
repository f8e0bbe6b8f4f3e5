import type { Rgb } from '../mask/pixels'
import { hexToRgb, pickedColour, rgbToHex, type Ink, type Tip } from './brush'
import { Painter, canvasPng, type PaintTool } from './painter'

const COLOUR_TOOLS: readonly PaintTool[] = ['brush', 'eraser', 'picker']

/** A colour (paint) layer being painted, in its own pixels: RGBA, transparent where unpainted. */
export class ColourPainter extends Painter {
  readonly tools = COLOUR_TOOLS
  readonly inStack = true
  colour: Rgb = [0, 0, 0]
  /** 0–1: 1 is a hard edge. */
  hardness = 1
  /** 0–1: the most one stroke covers. */
  opacity = 1

  get hex(): string {
    return rgbToHex(this.colour)
  }

  protected tip(): Tip {
    return { size: this.size, hardness: this.hardness }
  }

  protected ink(): Ink {
    return { colour: this.colour, opacity: this.opacity, erase: this.tool === 'eraser' }
  }

  setColour(hex: string): void {
    this.colour = hexToRgb(hex)
    this.changed()
  }

  setHardness(hardness: number): void {
    this.hardness = Math.min(1, Math.max(0, hardness))
    this.changed()
  }

  setOpacity(opacity: number): void {
    this.opacity = Math.min(1, Math.max(0.01, opacity))
    this.changed()
  }

  /** Takes the colour of a displayed pixel (nothing where nothing is drawn); the picker tool
   * then hands back to the brush, as a quick pick between strokes is meant to. */
  pick(rgba: ArrayLike<number> | null): void {
    const hex = rgba === null ? null : pickedColour(rgba)
    if (hex !== null) this.colour = hexToRgb(hex)
    if (this.tool === 'picker') this.tool = 'brush'
    this.changed()
  }

  /** Whether a press picks a colour rather than paints: with the picker, or Alt held. */
  picks(alt: boolean): boolean {
    return this.tool === 'picker' || alt
  }

  /** The colour, size, hardness and opacity of another painter's brush (as Photoshop keeps
   * them from one layer to the next). */
  takeBrush(other: ColourPainter): void {
    this.colour = other.colour
    this.hardness = other.hardness
    this.opacity = other.opacity
    this.setSize(other.size)
  }

  /** Starts from the layer's pixels. */
  load(image: CanvasImageSource): void {
    this.context.drawImage(image, 0, 0)
    this.changed()
  }

  toPng(): Promise<Blob> {
    return canvasPng(this.canvas, 'painting')
  }
}
