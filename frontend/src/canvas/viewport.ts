/** Where the canvas sits in the view: screen = canvas * scale + (x, y). */
export interface Viewport {
  scale: number
  x: number
  y: number
}

export interface Size {
  width: number
  height: number
}

export const MIN_SCALE = 0.05
export const MAX_SCALE = 32
const FIT_MARGIN = 24
/** Above and below the fitted canvas: room for the toolbars floating there (mask tools, zoom). */
const FIT_MARGIN_Y = 52

export function clampScale(scale: number): number {
  return Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale))
}

/** The whole canvas centred in the view, as large as fits. */
export function fit(canvas: Size, view: Size): Viewport {
  const room = { width: Math.max(1, view.width - 2 * FIT_MARGIN), height: Math.max(1, view.height - 2 * FIT_MARGIN_Y) }
  const scale = clampScale(Math.min(room.width / canvas.width, room.height / canvas.height))
  return centred(canvas, view, scale)
}

/** The canvas centred in the view at `scale`, on whole screen pixels (at 100% each canvas pixel is
 * then exactly one screen pixel, not a blend of two). */
export function centred(canvas: Size, view: Size, scale: number): Viewport {
  return { scale, x: Math.round((view.width - canvas.width * scale) / 2), y: Math.round((view.height - canvas.height * scale) / 2) }
}

/** Zoom by `factor` keeping the canvas point under `anchor` (screen coordinates) in place. */
export function zoomAt(viewport: Viewport, anchor: { x: number; y: number }, factor: number): Viewport {
  const scale = clampScale(viewport.scale * factor)
  const ratio = scale / viewport.scale
  return { scale, x: anchor.x - (anchor.x - viewport.x) * ratio, y: anchor.y - (anchor.y - viewport.y) * ratio }
}

/** The canvas point under a screen point. */
export function toCanvas(viewport: Viewport, point: { x: number; y: number }): { x: number; y: number } {
  return { x: (point.x - viewport.x) / viewport.scale, y: (point.y - viewport.y) / viewport.scale }
}
