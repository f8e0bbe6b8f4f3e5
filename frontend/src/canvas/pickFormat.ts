/** The text formats of prompt parameters picked on the canvas (Segment Anything's `points` and
 * `box`): `"x,y; x,y,0"` (label 0 = not on the object) and `"x0,y0,x1,y1"`, in image pixels. */

export type PickKind = 'points' | 'box'

export interface PickPoint {
  x: number
  y: number
  /** 1 = on the object, 0 = not on it. */
  label: 0 | 1
}

export type Box = readonly [number, number, number, number]

const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value))

/** The points in `text`; chunks that are not `x,y` or `x,y,label` are skipped (the server names them). */
export function parsePoints(text: string): PickPoint[] {
  const points: PickPoint[] = []
  for (const chunk of text.split(';')) {
    const values = chunk.split(',').map((v) => Number(v.trim()))
    if (chunk.trim() === '' || values.some((v) => !Number.isFinite(v))) continue
    if (values.length === 2) points.push({ x: values[0], y: values[1], label: 1 })
    else if (values.length === 3 && (values[2] === 0 || values[2] === 1)) points.push({ x: values[0], y: values[1], label: values[2] })
  }
  return points
}

/** The box in `text`, or null when it is empty or not four numbers. */
export function parseBox(text: string): Box | null {
  const values = text.split(',').map((v) => Number(v.trim()))
  if (text.trim() === '' || values.length !== 4 || values.some((v) => !Number.isFinite(v))) return null
  return [values[0], values[1], values[2], values[3]]
}

/** The pixel under canvas point `p`, kept inside a `width` x `height` image. */
export function pixelAt(p: { x: number; y: number }, width: number, height: number): { x: number; y: number } {
  return { x: clamp(Math.floor(p.x), 0, width - 1), y: clamp(Math.floor(p.y), 0, height - 1) }
}

/** `text` with one more point. */
export function appendPoint(text: string, point: PickPoint): string {
  const kept = text.trim().replace(/;\s*$/, '')
  const added = point.label === 1 ? `${point.x},${point.y}` : `${point.x},${point.y},0`
  return kept === '' ? added : `${kept}; ${added}`
}

/** The box dragged from `a` to `b` (any corners), on pixel edges inside the image; null when it
 * has no area. */
export function boxText(a: { x: number; y: number }, b: { x: number; y: number }, width: number, height: number): string | null {
  const xs = [a.x, b.x].map((v) => clamp(Math.round(v), 0, width)).sort((p, q) => p - q)
  const ys = [a.y, b.y].map((v) => clamp(Math.round(v), 0, height)).sort((p, q) => p - q)
  if (xs[0] === xs[1] || ys[0] === ys[1]) return null
  return `${xs[0]},${ys[0]},${xs[1]},${ys[1]}`
}
