/* The move tool on the selected layer: drag it (snapping to the canvas's edges and centre lines,
 * with a guide shown), or scale it by the corner handles, aspect kept. The layer follows at once;
 * the placement is committed when the drag or scaling ends. */
import type Konva from 'konva'
import { useEffect, useRef, useState, type RefObject } from 'react'
import { Line, Rect, Transformer } from 'react-konva'
import type { Placement } from '../api/types'
import { clampPosition, placedBox, placementForBox, snapBox, type Box } from './placement'
import type { Size } from './viewport'

/** Screen pixels within which a dragged layer's edge or centre snaps to the canvas's. */
export const SNAP_PX = 6
/** A pointer move shorter than this (screen px) between press and release is a click: the layer
 * stays put (a click with the move tool selects the layer under it). */
export const CLICK_SLOP = 4
const GUIDE = '#ec4899'
const CORNERS = ['top-left', 'top-right', 'bottom-left', 'bottom-right']

interface MoveToolProps {
  /** The proxy the drag moves; the canvas starts a drag on it from anywhere. */
  target: RefObject<Konva.Rect | null>
  /** The selected layer's own size and where it is now. */
  size: Size
  placement: Placement
  canvas: Size
  /** Screen pixels per canvas pixel. */
  scale: number
  /** The canvas area in view, where guides are drawn across. */
  view: Box
  onStart: () => void
  onDraft: (placement: Placement) => void
  onCommit: (placement: Placement, changed: Partial<Placement>) => void
}

/** A mouse or pen event's point on screen; null for others (a touch has no threshold). */
function screenPoint(evt: Event | undefined): { x: number; y: number } | null {
  return evt instanceof MouseEvent ? { x: evt.clientX, y: evt.clientY } : null
}

export function MoveTool({ target, size, placement, canvas, scale, view, onStart, onDraft, onCommit }: MoveToolProps) {
  const transformer = useRef<Konva.Transformer>(null)
  const [guides, setGuides] = useState<{ vertical: number[]; horizontal: number[] }>({ vertical: [], horizontal: [] })
  const start = useRef<Placement>(placement)
  // Where the drag's press went down on screen, until the pointer has gone CLICK_SLOP from it.
  const pressed = useRef<{ x: number; y: number } | null>(null)
  // While the handles scale the proxy (its scaleX/Y), its box stays the one they started from.
  const [scaling, setScaling] = useState(false)
  const box = placedBox(size, scaling ? start.current : placement)

  useEffect(() => {
    if (target.current !== null) transformer.current?.nodes([target.current])
  }, [target])

  const nodeBox = (node: Konva.Node): Box => ({ x: node.x(), y: node.y(), width: node.width() * node.scaleX(), height: node.height() * node.scaleY() })

  return (
    <>
      <Rect
        ref={target}
        name="move-target"
        {...box}
        fill="rgba(0, 0, 0, 0)"
        draggable
        onDragStart={(e) => {
          onStart()
          start.current = placement
          pressed.current = screenPoint(e.evt)
        }}
        onDragMove={(e) => {
          const node = e.target
          const at = screenPoint(e.evt)
          if (pressed.current !== null && at !== null && Math.hypot(at.x - pressed.current.x, at.y - pressed.current.y) < CLICK_SLOP) {
            node.position(placedBox(size, start.current))
            return
          }
          pressed.current = null
          const snapped = snapBox(nodeBox(node), canvas, SNAP_PX / scale)
          const position = clampPosition(snapped, canvas)
          node.position(position)
          setGuides({ vertical: snapped.vertical, horizontal: snapped.horizontal })
          onDraft({ ...start.current, ...position })
        }}
        onDragEnd={(e) => {
          setGuides({ vertical: [], horizontal: [] })
          const position = clampPosition(e.target.position(), canvas)
          if (position.x !== start.current.x || position.y !== start.current.y) onCommit({ ...start.current, ...position }, position)
        }}
        onTransformStart={() => {
          onStart()
          start.current = placement
          setScaling(true)
        }}
        onTransform={(e) => onDraft(placementForBox(size, nodeBox(e.target), start.current, canvas))}
        onTransformEnd={(e) => {
          const next = placementForBox(size, nodeBox(e.target), start.current, canvas)
          // Back to a plain box of the new size: the props may equal the last render's, so React would not.
          e.target.setAttrs({ ...placedBox(size, next), scaleX: 1, scaleY: 1 })
          setScaling(false)
          onCommit(next, { x: next.x, y: next.y, scale: next.scale })
        }}
      />
      <Transformer
        ref={transformer}
        name="move-handles"
        enabledAnchors={CORNERS}
        keepRatio
        rotateEnabled={false}
        flipEnabled={false}
        ignoreStroke
        anchorSize={9}
        borderStroke="#3b82f6"
        anchorStroke="#3b82f6"
        boundBoxFunc={(old, next) => (next.width < 2 || next.height < 2 ? old : next)}
      />
      {guides.vertical.map((x) => (
        <Line key={`v${x}`} name="snap-guide" points={[x, view.y, x, view.y + view.height]} stroke={GUIDE} strokeWidth={1 / scale} listening={false} />
      ))}
      {guides.horizontal.map((y) => (
        <Line key={`h${y}`} name="snap-guide" points={[view.x, y, view.x + view.width, y]} stroke={GUIDE} strokeWidth={1 / scale} listening={false} />
      ))}
    </>
  )
}
