/* The generation region on the canvas: a dashed rectangle with its size; with the region tool a
 * drag anywhere draws a new one, and the rectangle's handles resize it and dragging it moves it,
 * all on whole canvas pixels inside the canvas. */
import type Konva from 'konva'
import { useEffect, useRef, useState, useSyncExternalStore } from 'react'
import { Group, Rect, Text, Transformer } from 'react-konva'
import type { Box } from '../canvas/placement'
import type { Size } from '../canvas/viewport'
import { fitRegion, regionFromDrag } from './region'
import type { RegionSelection } from './selection'

const COLOUR = '#22d3ee'
type Point = { x: number; y: number }

interface RegionNodesProps {
  region: RegionSelection
  /** The region tool is on (and nothing else, like a mask brush, takes the pointer). */
  active: boolean
  canvas: Size
  view: Box
  /** Screen pixels per canvas pixel. */
  scale: number
}

/** The region's outline and its size, drawn at a constant screen size. */
function RegionBox({ box, scale, name }: { box: Box; scale: number; name: string }) {
  const label = `${box.width} × ${box.height}`
  const font = 12 / scale
  return (
    <Group listening={false}>
      <Rect name={name} {...box} stroke="#000" strokeWidth={3 / scale} opacity={0.5} />
      <Rect {...box} stroke={COLOUR} strokeWidth={1.5 / scale} dash={[8 / scale, 4 / scale]} />
      <Rect x={box.x} y={box.y - font * 1.6} width={font * (label.length * 0.62 + 1)} height={font * 1.5} fill="rgba(24, 24, 27, 0.8)" cornerRadius={3 / scale} />
      <Text name="region-size" x={box.x + font * 0.5} y={box.y - font * 1.35} text={label} fontSize={font} fill={COLOUR} />
    </Group>
  )
}

export function RegionNodes({ region, active, canvas, view, scale }: RegionNodesProps) {
  useSyncExternalStore(region.subscribe, () => region.version)
  const [draft, setDraft] = useState<[Point, Point] | null>(null)
  const [moved, setMoved] = useState<Box | null>(null)
  const target = useRef<Konva.Rect>(null)
  const handles = useRef<Konva.Transformer>(null)
  const box = region.box

  useEffect(() => {
    if (!active || box === null || target.current === null) return
    handles.current?.nodes([target.current])
    handles.current?.getLayer()?.batchDraw()
  }, [active, box])

  const pointer = (e: Konva.KonvaEventObject<PointerEvent>): Point | null => e.target.getStage()?.getRelativePointerPosition() ?? null
  const fromNode = (node: Konva.Node): Box =>
    fitRegion({ x: node.x(), y: node.y(), width: node.width() * node.scaleX(), height: node.height() * node.scaleY() }, canvas)
  const drafted = draft === null ? null : regionFromDrag(draft[0], draft[1], canvas)
  const shown = drafted ?? moved ?? box

  return (
    <>
      {active && (
        <Rect
          name="region-capture"
          {...view}
          fill="rgba(0, 0, 0, 0)"
          onPointerDown={(e) => {
            const p = pointer(e)
            if (e.evt.button === 0 && p !== null) setDraft([p, p])
          }}
          onPointerMove={(e) => {
            const p = pointer(e)
            if (draft !== null && p !== null) setDraft([draft[0], p])
          }}
          onPointerUp={() => {
            // A click (or a rectangle under 8 × 8) keeps the region there was.
            if (drafted !== null) region.set(drafted)
            setDraft(null)
          }}
          onPointerLeave={() => setDraft(null)}
        />
      )}
      {shown !== null && <RegionBox box={shown} scale={scale} name={drafted !== null ? 'region-draft' : 'region-box'} />}
      {active && box !== null && drafted === null && (
        <>
          <Rect
            ref={target}
            name="region-target"
            {...box}
            fill="rgba(0, 0, 0, 0)"
            draggable
            onDragMove={(e) => {
              const next = fromNode(e.target)
              e.target.position(next)
              setMoved(next)
            }}
            onDragEnd={(e) => {
              region.set(fromNode(e.target))
              setMoved(null)
            }}
            onTransform={(e) => setMoved(fromNode(e.target))}
            onTransformEnd={(e) => {
              const next = fromNode(e.target)
              // Back to a plain rectangle of the new size: the props may equal the last render's.
              e.target.setAttrs({ ...next, scaleX: 1, scaleY: 1 })
              region.set(next)
              setMoved(null)
            }}
          />
          <Transformer
            ref={handles}
            name="region-handles"
            rotateEnabled={false}
            flipEnabled={false}
            ignoreStroke
            anchorSize={9}
            borderEnabled={false}
            anchorStroke={COLOUR}
            boundBoxFunc={(old, next) => (next.width < 8 * scale || next.height < 8 * scale ? old : next)}
          />
        </>
      )}
    </>
  )
}
