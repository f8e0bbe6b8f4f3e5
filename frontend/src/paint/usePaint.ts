import { createContext, useCallback, useEffect, useRef, useState } from 'react'
import { blobUrl } from '../api/client'
import type { Layer, Project } from '../api/types'
import { loadImage } from '../canvas/images'
import { useController } from '../state/context'
import { ColourPainter } from './colourPainter'
import { LiveMode } from './live'
import { canvasPng } from './painter'
import { PaintSession } from './session'

/** What the layers panel needs of painting: live mode, and a way to paint a layer. */
export interface PaintControls {
  live: LiveMode
  /** The paint layer being painted, if any. */
  painting: string | null
  paint: (layerId: string) => void
}

export const PaintContext = createContext<PaintControls | null>(null)

/** A transparent PNG of `width` x `height`: a new, empty painting. */
function blankPng(width: number, height: number): Promise<Blob> {
  const canvas = document.createElement('canvas')
  canvas.width = width
  canvas.height = height
  return canvasPng(canvas, 'new painting')
}

/** The pixels of a paint layer: its asset (`sha256:<hex>`, a blob), ready before its run is. */
function assetUrl(layer: Layer): string {
  const asset = layer.recipe.params.asset
  if (typeof asset !== 'string' || !asset.startsWith('sha256:')) throw new Error(`“${layer.name}” has no painted pixels to repaint`)
  return blobUrl(asset.slice('sha256:'.length))
}

/** Colour painting in the editor: at most one paint layer painted at a time (starting another
 * saves and leaves the first); the brush's settings carry over from one to the next. */
export function usePaint(project: Project) {
  const controller = useController()
  const [live] = useState(() => new LiveMode(controller.store))
  const [session, setSession] = useState<PaintSession | null>(null)
  const current = useRef<PaintSession | null>(null)
  const brush = useRef<ColourPainter | null>(null)
  useEffect(() => live.watch(), [live])
  const { width, height } = project

  /** Saves and stops painting. The painting stays on the canvas until it is saved, so the
   * layer's old pixels do not flash up meanwhile. */
  const done = useCallback(async () => {
    const ending = current.current
    if (ending === null) return
    current.current = null
    await ending.finish()
    setSession((shown) => (shown === ending ? null : shown))
  }, [])

  const begin = useCallback(
    (painter: ColourPainter, target: Layer) => {
      if (brush.current !== null) painter.takeBrush(brush.current)
      brush.current = painter
      const next = new PaintSession(painter, target, controller, live)
      current.current = next
      setSession(next)
    },
    [controller, live],
  )

  /** Paints an existing paint layer, in its own pixels at its place on the canvas. */
  const repaint = useCallback(
    async (layer: Layer) => {
      if (current.current?.target.id === layer.id) return
      await done()
      const image = await controller.guard(() => loadImage(assetUrl(layer)))
      if (image === undefined) return
      const painter = new ColourPainter(image.naturalWidth, image.naturalHeight, layer.placement)
      painter.load(image)
      begin(painter, layer)
    },
    [controller, done, begin],
  )

  /** A new, transparent paint layer the canvas's size, painted at once. */
  const paintNew = useCallback(async () => {
    await done()
    const png = await controller.guard(() => blankPng(width, height))
    const result = png === undefined ? undefined : await controller.uploadPainting(png, 'Paint')
    const layer = result?.project.layers.find((l) => l.id === result.layers[0])
    if (layer !== undefined) begin(new ColourPainter(width, height, layer.placement), layer)
  }, [controller, done, begin, width, height])

  const paint = (id: string) => {
    const layer = controller.state.project?.layers.find((l) => l.id === id)
    if (layer !== undefined) void repaint(layer)
  }
  const controls: PaintControls = { live, painting: session?.target.id ?? null, paint }
  return { session, controls, repaint, paintNew, done }
}
