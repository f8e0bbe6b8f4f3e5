import type Konva from 'konva'
import { useEffect, useMemo, useRef, useState, useSyncExternalStore, type RefObject } from 'react'
import { Circle, Group, Image as KonvaImage, Layer as KonvaLayer, Rect, Stage } from 'react-konva'
import type { Layer, Project } from '../api/types'
import type { Point } from '../paint/brush'
import { ColourPainter } from '../paint/colourPainter'
import type { Painter } from '../paint/painter'
import { BrushOutline, PainterNode } from '../paint/PainterNode'
import { sampleLayer } from '../paint/sample'
import { isTyping } from '../components/keys'
import { RegionNodes } from '../region/RegionNodes'
import type { RegionSelection } from '../region/selection'
import { layerById } from '../state/app'
import { useAppState, useController } from '../state/context'
import { LAYER_ATTR, useDragSnapshot } from './dragSnapshot'
import { ImageLayerNode, MaskLayerNode, Outline, OutsideDim, useLayerSize } from './LayerNodes'
import { CLICK_SLOP, MoveTool } from './MoveTool'
import type { CanvasPicker } from './picker'
import { placedBox, type Box } from './placement'
import { useLayerHits } from './useLayerHits'
import { useMoving, type Moving } from './useMoving'
import { centred, fit, toCanvas, zoomAt, type Size, type Viewport } from './viewport'

const ZOOM_STEP = 1.25

interface CanvasViewProps {
  project: Project
  /** The mask or colour layer being painted, if any; pointer drags paint on it instead of panning. */
  painter: Painter | null
  /** The layer being repainted: the painter shows it instead. */
  repainting: string | null
  /** The op form's points and box: shown on the canvas; while picking, clicks and drags set them. */
  picker: CanvasPicker
  /** The move tool is on: a click selects the layer under the pointer, a drag moves the selected
   * layer (Space + drag pans), arrows nudge it. */
  moving: boolean
  /** The generation region, shown over the layers; with the region tool on, drags draw it. */
  region: RegionSelection
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

const POINT_COLOURS = { 1: '#22c55e', 0: '#ef4444' } as const

/** The picked points (green: on the object, red: not) and box, at a constant screen size. */
function PickMarks({ picker, draft, scale }: { picker: CanvasPicker; draft: [Point, Point] | null; scale: number }) {
  useSyncExternalStore(picker.subscribe, () => picker.version)
  const box = picker.box
  const rect = (x0: number, y0: number, x1: number, y1: number, name: string) => (
    <Rect name={name} x={x0} y={y0} width={x1 - x0} height={y1 - y0} stroke="#facc15" strokeWidth={2 / scale} dash={[6 / scale, 4 / scale]} listening={false} />
  )
  return (
    <>
      {box !== null && draft === null && rect(box[0], box[1], box[2], box[3], 'pick-box')}
      {draft !== null &&
        rect(Math.min(draft[0].x, draft[1].x), Math.min(draft[0].y, draft[1].y), Math.max(draft[0].x, draft[1].x), Math.max(draft[0].y, draft[1].y), 'pick-draft')}
      {picker.points.map((p, i) => (
        <Circle
          key={i}
          name="pick-point"
          x={p.x + 0.5}
          y={p.y + 0.5}
          radius={5 / scale}
          fill={POINT_COLOURS[p.label]}
          stroke="#fff"
          strokeWidth={1.5 / scale}
          listening={false}
        />
      ))}
    </>
  )
}

/** The selected layer's outline and, with the move tool, its handles. */
function Selection({ layer, moving, canvas, viewport, view, target, move }: {
  layer: Layer
  moving: boolean
  canvas: Size
  viewport: Viewport
  view: Box
  target: RefObject<Konva.Rect | null>
  move: Moving
}) {
  const size = useLayerSize(layer)
  if (size === null || !layer.visible) return null
  const placement = move.placementOf(layer)
  if (!moving) return <Outline box={placedBox(size, placement)} scale={viewport.scale} />
  return (
    <MoveTool
      key={layer.id}
      target={target}
      size={size}
      placement={placement}
      canvas={canvas}
      scale={viewport.scale}
      view={view}
      onStart={move.flush}
      onDraft={(p) => move.draft(layer.id, p)}
      onCommit={(p, changed) => void move.commit(layer.id, p, changed)}
    />
  )
}

/** Whether the Space bar is held (with the move tool, Space + drag pans, as in Photoshop). */
function useSpaceHeld(enabled: boolean): boolean {
  const [held, setHeld] = useState(false)
  useEffect(() => {
    if (!enabled) return
    const onDown = (e: KeyboardEvent) => {
      if (e.code !== 'Space' || isTyping(e.target) || (e.target instanceof HTMLElement && e.target.closest('button, dialog') !== null)) return
      e.preventDefault()
      setHeld(true)
    }
    const onUp = (e: KeyboardEvent) => {
      if (e.code === 'Space') setHeld(false)
    }
    const onBlur = () => setHeld(false)
    window.addEventListener('keydown', onDown)
    window.addEventListener('keyup', onUp)
    window.addEventListener('blur', onBlur)
    return () => {
      window.removeEventListener('keydown', onDown)
      window.removeEventListener('keyup', onUp)
      window.removeEventListener('blur', onBlur)
      setHeld(false)
    }
  }, [enabled])
  return held
}

/** The composite of the visible layers in stack order, each at its placement (outside the canvas
 * dimmed: the export clips it), with zoom, pan and fit, the move tool, the mask brush, job
 * previews and the op form's picked points and box. Three Konva layers: the checkerboard, the
 * image layers (composited alone, so blend modes mix layers, not the checkerboard: this canvas
 * holds what the export holds) and everything drawn over them. */
export function CanvasView({ project, painter, repainting, picker, moving: movingTool, region }: CanvasViewProps) {
  const controller = useController()
  const selected = useAppState((s) => s.selectedLayer)
  const [container, setContainer] = useState<HTMLDivElement | null>(null)
  const size = useContainerSize(container)
  const [viewport, setViewport] = useState<Viewport | null>(null)
  const [hover, setHover] = useState<Point | null>(null)
  const [drag, setDrag] = useState<{ from: Point; screen: Point; to: Point } | null>(null)
  const picking = useSyncExternalStore(picker.subscribe, () => picker.picking) && painter === null
  const regionTool = useSyncExternalStore(region.subscribe, () => region.tool) && painter === null && !picking
  const moving = movingTool && painter === null && !picking && !regionTool
  const move = useMoving(moving)
  const panning = useSpaceHeld(moving || regionTool)
  const moveTarget = useRef<Konva.Rect>(null)
  // With the move tool: where the press that may be a click (selecting a layer) went down, on screen.
  const press = useRef<Point | null>(null)
  const composite = useRef<Konva.Layer>(null)
  // A colour layer being painted shows (in its place) even when hidden; a mask's tint goes on top.
  const shown = project.layers.filter((l) => (l.id === repainting && painter !== null ? painter.inStack : l.visible))
  const images = shown.filter((l) => l.kind === 'image')
  const layerAt = useLayerHits(images, move.placementOf)
  const snapshot = useDragSnapshot(composite, images, moving ? move.drafting : null, viewport, size, project.layers)
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
  const topLeft = toCanvas(viewport, { x: 0, y: 0 })
  const view: Box = { ...topLeft, width: size.width / viewport.scale, height: size.height / viewport.scale }
  const selectedLayer = layerById(project, selected)
  const classes = ['canvas-container', painter !== null ? 'painting' : picking ? 'picking' : moving || regionTool ? (panning ? 'panning' : moving ? 'moving' : 'drawing-region') : '']

  return (
    <div ref={setContainer} className={classes.filter(Boolean).join(' ')}>
      <Stage
        width={size.width}
        height={size.height}
        x={viewport.x}
        y={viewport.y}
        scaleX={viewport.scale}
        scaleY={viewport.scale}
        draggable={painter === null && !picking && ((!moving && !regionTool) || panning)}
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
          if (e.evt.button !== 0) return
          const p = pointer(e.target.getStage())
          if (p === null) return
          if (painter instanceof ColourPainter && painter.picks(e.evt.altKey)) {
            painter.pick(sampleLayer(e.target.getStage()!))
          } else if (painter !== null) {
            painter.startStroke(p)
          } else if (picking) {
            setDrag({ from: p, screen: { x: e.evt.clientX, y: e.evt.clientY }, to: p })
          } else if (moving && !panning && !e.target.findAncestor('Transformer')) {
            press.current = { x: e.evt.clientX, y: e.evt.clientY }
            // As in Photoshop, a drag anywhere moves the selected layer, not only on its pixels.
            if (e.target !== moveTarget.current) moveTarget.current?.startDrag(e)
          }
        }}
        onPointerMove={(e) => {
          const p = pointer(e.target.getStage())
          if (p === null) return
          if (painter !== null) {
            setHover(p)
            painter.stroke(p)
          } else if (drag !== null) {
            setDrag({ ...drag, to: p })
          }
        }}
        onPointerUp={(e) => {
          painter?.endStroke()
          const pressed = press.current
          press.current = null
          if (pressed !== null && Math.hypot(e.evt.clientX - pressed.x, e.evt.clientY - pressed.y) < CLICK_SLOP) {
            // Photoshop's auto-select: a click selects the topmost layer with a pixel under it.
            const p = pointer(e.target.getStage())
            const hit = p === null ? null : layerAt(p)
            if (hit !== null && hit !== selected) controller.select(hit)
          }
          if (drag === null) return
          setDrag(null)
          const moved = Math.hypot(e.evt.clientX - drag.screen.x, e.evt.clientY - drag.screen.y)
          const p = pointer(e.target.getStage()) ?? drag.to
          if (moved < CLICK_SLOP) picker.click(drag.from, !e.evt.shiftKey, width, height)
          else picker.drag(drag.from, p, width, height)
        }}
        onPointerLeave={() => {
          painter?.endStroke()
          press.current = null
          setHover(null)
          setDrag(null)
        }}
      >
        <KonvaLayer name="background" listening={false}>
          <KonvaImage image={background} listening={false} />
        </KonvaLayer>
        <KonvaLayer ref={composite} name="composite" listening={false} imageSmoothingEnabled={viewport.scale < 1}>
          {snapshot?.below != null && <KonvaImage name="drag-below" image={snapshot.below} {...snapshot.view} />}
          {images.map((layer) => (
            <Group key={layer.id} {...{ [LAYER_ATTR]: layer.id }} visible={snapshot?.covered.has(layer.id) !== true}>
              {layer.id === repainting && painter !== null ? (
                <PainterNode painter={painter} opacity={layer.opacity} blend={layer.blend} />
              ) : (
                <ImageLayerNode layer={layer} layers={project.layers} placement={move.placementOf(layer)} canvas={canvasSize} />
              )}
            </Group>
          ))}
          {snapshot?.above != null && <KonvaImage name="drag-above" image={snapshot.above} {...snapshot.view} />}
        </KonvaLayer>
        <KonvaLayer name="overlay" imageSmoothingEnabled={viewport.scale < 1}>
          {shown
            .filter((l) => l.kind === 'mask')
            .map((layer) => (
              <MaskLayerNode key={layer.id} layer={layer} placement={move.placementOf(layer)} />
            ))}
          <OutsideDim canvas={canvasSize} view={view} />
          <RegionNodes region={region} active={regionTool && !panning} canvas={canvasSize} view={view} scale={viewport.scale} />
          {selectedLayer !== undefined && painter === null && (
            <Selection layer={selectedLayer} moving={moving} canvas={canvasSize} viewport={viewport} view={view} target={moveTarget} move={move} />
          )}
          {painter !== null && !painter.inStack && <PainterNode painter={painter} opacity={0.6} />}
          {painter === null && <PickMarks picker={picker} draft={drag === null ? null : [drag.from, drag.to]} scale={viewport.scale} />}
          {painter !== null && hover !== null && <BrushOutline painter={painter} at={hover} scale={viewport.scale} />}
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
