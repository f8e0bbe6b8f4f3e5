/* The brush's arithmetic, in a layer's own pixels: how much a round brush of some hardness
 * covers each pixel along a stroke, and a stroke's colour laid over (or erased from) the pixels
 * it started on. A stroke keeps, per pixel, the most any of its segments covered it, so it never
 * builds up over itself: at 60% opacity a stroke crossing itself stays at 60%, as in Photoshop
 * and Krita. */

import type { Rgb } from '../mask/pixels'

export interface Point {
  x: number
  y: number
}

/** A rectangle of whole pixels. */
export interface Rect {
  x: number
  y: number
  width: number
  height: number
}

const smoothstep = (t: number) => t * t * (3 - 2 * t)

/** How much (0–1) a brush of `radius` covers a pixel whose centre is `distance` from the brush's
 * centre line. Hardness 1: full coverage to the edge, which is anti-aliased over one pixel;
 * lower: full coverage to `hardness * radius`, then a smooth fall to nothing at the edge. */
export function coverage(distance: number, radius: number, hardness: number): number {
  const edge = Math.min(1, Math.max(0, radius + 0.5 - distance))
  const core = radius * hardness
  if (distance <= core || radius <= core) return edge
  if (distance >= radius) return 0
  return edge * (1 - smoothstep((distance - core) / (radius - core)))
}

/** The distance from `p` to the segment from `a` to `b`. */
export function segmentDistance(p: Point, a: Point, b: Point): number {
  const dx = b.x - a.x
  const dy = b.y - a.y
  const length2 = dx * dx + dy * dy
  const t = length2 === 0 ? 0 : Math.min(1, Math.max(0, ((p.x - a.x) * dx + (p.y - a.y) * dy) / length2))
  return Math.hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy))
}

export interface Tip {
  /** The diameter in pixels. */
  size: number
  /** 0 (all soft) to 1 (a hard edge). */
  hardness: number
}

/** Marks what the segment `from`–`to` (a dot when they are equal) of a brush covers in `cover`
 * (one byte per pixel of a `width` x `height` layer, 255 = fully), keeping the larger value where
 * the stroke already covered a pixel. The pixels it touched, or null when it missed the layer. */
export function stampSegment(cover: Uint8Array, width: number, height: number, from: Point, to: Point, tip: Tip): Rect | null {
  const radius = tip.size / 2
  const reach = radius + 1
  const x0 = Math.max(0, Math.floor(Math.min(from.x, to.x) - reach))
  const y0 = Math.max(0, Math.floor(Math.min(from.y, to.y) - reach))
  const x1 = Math.min(width, Math.ceil(Math.max(from.x, to.x) + reach))
  const y1 = Math.min(height, Math.ceil(Math.max(from.y, to.y) + reach))
  if (x0 >= x1 || y0 >= y1) return null
  const centre = { x: 0, y: 0 }
  for (let y = y0; y < y1; y++) {
    centre.y = y + 0.5
    for (let x = x0; x < x1; x++) {
      centre.x = x + 0.5
      const value = Math.round(255 * coverage(segmentDistance(centre, from, to), radius, tip.hardness))
      const i = y * width + x
      if (value > cover[i]) cover[i] = value
    }
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }
}

export interface Ink {
  colour: Rgb
  /** 0–1: the most a stroke covers. */
  opacity: number
  /** Takes paint away (alpha) instead of laying it on. */
  erase: boolean
}

/** One channel of "source-over" in straight alpha: `ink` at `a` over `under` weighing `weight`. */
function over(ink: number, below: number, a: number, weight: number, alpha: number): number {
  return alpha === 0 ? 0 : Math.round((ink * a + below * weight) / alpha)
}

/** The pixels of `rect` after a stroke: `base` (the whole layer's RGBA before the stroke, straight
 * alpha) with the ink laid over it "source-over" (or erased from it) by `cover` times the opacity. */
export function composeStroke(base: Uint8ClampedArray, cover: Uint8Array, width: number, rect: Rect, ink: Ink): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(rect.width * rect.height * 4)
  const [r, g, b] = ink.colour
  for (let y = 0; y < rect.height; y++) {
    for (let x = 0; x < rect.width; x++) {
      const p = (rect.y + y) * width + rect.x + x
      const i = p * 4
      const o = (y * rect.width + x) * 4
      const a = (cover[p] / 255) * ink.opacity
      const below = base[i + 3] / 255
      if (ink.erase) {
        out[o] = base[i]
        out[o + 1] = base[i + 1]
        out[o + 2] = base[i + 2]
        out[o + 3] = Math.round(255 * below * (1 - a))
        continue
      }
      const alpha = a + below * (1 - a)
      const under = below * (1 - a)
      out[o] = over(r, base[i], a, under, alpha)
      out[o + 1] = over(g, base[i + 1], a, under, alpha)
      out[o + 2] = over(b, base[i + 2], a, under, alpha)
      out[o + 3] = Math.round(255 * alpha)
    }
  }
  return out
}

/** `#rrggbb` as [r, g, b]; throws for anything else. */
export function hexToRgb(hex: string): Rgb {
  const match = /^#([0-9a-f]{6})$/i.exec(hex)
  if (match === null) throw new Error(`not a colour: ${JSON.stringify(hex)} (expected #rrggbb)`)
  const n = parseInt(match[1], 16)
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255]
}

export function rgbToHex([r, g, b]: Rgb): string {
  return `#${[r, g, b].map((c) => c.toString(16).padStart(2, '0')).join('')}`
}

/** The colour a picker takes from a displayed pixel (RGBA, straight alpha): its colour, or null
 * where nothing is drawn (a transparent pixel has no colour to take). */
export function pickedColour(rgba: ArrayLike<number>): string | null {
  return rgba[3] === 0 ? null : rgbToHex([rgba[0], rgba[1], rgba[2]])
}
