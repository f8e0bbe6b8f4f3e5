import type Konva from 'konva'
import { useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react'
import { Group, Image as KonvaImage, Layer as KonvaLayer, Rect, Stage } from 'react-konva'
import { blobUrl } from '../api/client'
import type { Layer, Project } from '../api/types'
import type { MaskPainter, Point } from '../mask/painter'
import { useAppState } from '../state/context'
import { useImage, useMaskOverlay } from './images'
import { centred, fit, zoomAt, type Size, type Viewport } from './viewport'

const MASK_OPACITY = 0.5
const ZOOM_STEP = 1.25
const OUTLINE = '#3b82f6'

interface CanvasViewProps {
  project: Project
  /** The mask being painted, if any; pointer drags paint on it instead of panning. */
  painter: MaskPainter | null
  /** The mask layer being repainted: the painter shows it instead. */
  repainting: string | null
}

function useContainerSize(element: HTMLElement | null): Size | null {
  const [size, setSize] = useState<Size | null>(null)
  useEffect(() => {
    if (element === null) return
    const observer = new ResizeObserver(([entry]) => {
      const { width, height } = entry.contentRect
      setSize({ width: Math.floor(width), height: Math.floor(height) })
    })
    observer.observe(element)
    return () => observer.disconnect()
  }, [element])
  return size
}

const CHECK = 8

/** The transparency checkerboard behind the layers, at the canvas size. */
function checkerboard(width: number, height: number): HTMLCanvasElement {
  const canvas = document.createElement('canvas')
  canvas.width = width
  canvas.height = height
  const context = canvas.getContext('2d')!
  context.fillStyle = '#f4f4f5'
  context.fillRect(0, 0, width, height)
  context.fillStyle = '#d4d4d8'
  for (let y = 0; y < height; y += CHECK) {
    for (let x = (y / CHECK) % 2 === 0 ? 0 : CHECK; x < width; x += 2 * CHECK) context.fillRect(x, y, CHECK, CHECK)
  }
  return canvas
}

function ImageLayerNode({ layer, selected, scale }: { layer: Layer; selected: boolean; scale: number }) {
  const image = useImage(layer.blob === null ? null : blobUrl(layer.blob))
  if (image === null) return null
  return (
    <>
      <KonvaImage image={image} opacity={layer.opacity} listening={false} />
      {selected && <Outline width={image.naturalWidth} height={image.naturalHeight} scale={scale} />}
    </>
  )
}

function MaskLayerNode({ layer, selected, scale }: { layer: Layer; selected: boolean; scale: number }) {
  const overlay = useMaskOverlay(layer.blob === null ? null : blobUrl(layer.blob))
  if (overlay === null) return null
  return (
    <>
      <KonvaImage image={overlay} opacity={layer.opacity * MASK_OPACITY} listening={false} />
      {selected && <Outline width={overlay.width} height={overlay.height} scale={scale} />}
    </>
  )
}

function Outline({ width, height, scale }: { width: number; height: number; scale: number }) {
  return <Rect width={width} height={height} stroke={OUTLINE} strokeWidth={2 / scale} dash={[6 / scale, 4 / scale]} listening={false} />
}

function PainterNode({ painter }: { painter: MaskPainter }) {
  const version = useSyncExternalStore(painter.subscribe, () => painter.version)
  const node = useRef<Konva.Image>(null)
  useEffect(() => {
    node.current?.getLayer()?.batchDraw()
  }, [version])
  return <KonvaImage ref={node} image={painter.canvas} opacity={0.6} listening={false} />
}

/** The composite of the visible layers in stack order, with zoom, pan and fit, and the mask brush. */
export function CanvasView({ project, painter, repainting }: CanvasViewProps) {
  const selected = useAppState((s) => s.selectedLayer)
  const [container, setContainer] = useState<HTMLDivElement | null>(null)
  const size = useContainerSize(container)
  const [viewport, setViewport] = useState<Viewport | null>(null)
  const stroke = useRef<Point | null>(null)
  const { width, height } = project
  const canvasSize = useMemo(() => ({ width, height }), [width, height])
  const background = useMemo(() => checkerboard(width, height), [width, height])

  useEffect(() => {
    setViewport(null)
  }, [project.id, canvasSize])
  useEffect(() => {
    if (size !== null && viewport === null) setViewport(fit(canvasSize, size))
  }, [size, viewport, canvasSize])

  if (size === null || viewport === null) {
    return <div ref={setContainer} className="canvas-container" />
  }

  const pointer = (stage: Konva.Stage | null): Point | null => stage?.getRelativePointerPosition() ?? null
  const zoom = (factor: number) => setViewport(zoomAt(viewport, { x: size.width / 2, y: size.height / 2 }, factor))

  return (
    <div ref={setContainer} className={painter !== null ? 'canvas-container painting' : 'canvas-container'}>
      <Stage
        width={size.width}
        height={size.height}
        x={viewport.x}
        y={viewport.y}
        scaleX={viewport.scale}
        scaleY={viewport.scale}
        draggable={painter === null}
        onDragMove={(e) => {
          if (e.target === e.target.getStage()) setViewport({ ...viewport, x: e.target.x(), y: e.target.y() })
        }}
        onWheel={(e) => {
          e.evt.preventDefault()
          const stage = e.target.getStage()
          const anchor = stage?.getPointerPosition()
          if (anchor) setViewport(zoomAt(viewport, anchor, e.evt.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP))
        }}
        onPointerDown={(e) => {
          if (painter === null || e.evt.button !== 0) return
          const p = pointer(e.target.getStage())
          if (p === null) return
          stroke.current = p
          painter.stroke(p, p)
        }}
        onPointerMove={(e) => {
          if (painter === null || stroke.current === null) return
          const p = pointer(e.target.getStage())
          if (p === null) return
          painter.stroke(stroke.current, p)
          stroke.current = p
        }}
        onPointerUp={() => {
          stroke.current = null
        }}
        onPointerLeave={() => {
          stroke.current = null
        }}
      >
        <KonvaLayer imageSmoothingEnabled={viewport.scale < 1}>
          <KonvaImage image={background} listening={false} />
          {project.layers
            .filter((l) => l.visible && l.id !== repainting)
            .map((layer) => (
              <Group key={layer.id}>
                {layer.kind === 'mask' ? (
                  <MaskLayerNode layer={layer} selected={layer.id === selected} scale={viewport.scale} />
                ) : (
                  <ImageLayerNode layer={layer} selected={layer.id === selected} scale={viewport.scale} />
                )}
              </Group>
            ))}
          {painter !== null && <PainterNode painter={painter} />}
        </KonvaLayer>
      </Stage>
      <div className="zoom-bar" role="toolbar" aria-label="Zoom">
        <button type="button" className="icon-button" aria-label="Zoom out" onClick={() => zoom(1 / ZOOM_STEP)}>
          −
        </button>
        <button type="button" onClick={() => setViewport(fit(canvasSize, size))}>
          Fit
        </button>
        <button type="button" onClick={() => setViewport(centred(canvasSize, size, 1))}>
          100%
        </button>
        <button type="button" className="icon-button" aria-label="Zoom in" onClick={() => zoom(ZOOM_STEP)}>
          +
        </button>
        <span className="zoom-value" aria-live="polite">
          {Math.round(viewport.scale * 100)}%
        </span>
      </div>
    </div>
  )
}
