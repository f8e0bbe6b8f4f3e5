/* A painter on the canvas: its pixels at the painted layer's place, and the brush (or the colour
 * picker's crosshair) as the cursor. */
import type Konva from 'konva'
import { useEffect, useRef, useSyncExternalStore } from 'react'
import { Circle, Line } from 'react-konva'
import type { BlendMode } from '../api/types'
import { PlacedImage } from '../canvas/LayerNodes'
import { placedBox } from '../canvas/placement'
import type { Point } from './brush'
import type { Painter } from './painter'

export function PainterNode({ painter, opacity, blend }: { painter: Painter; opacity: number; blend?: BlendMode }) {
  const version = useSyncExternalStore(painter.subscribe, () => painter.version)
  const node = useRef<Konva.Image>(null)
  useEffect(() => {
    node.current?.getLayer()?.batchDraw()
  }, [version])
  return (
    <PlacedImage
      name="painter"
      image={painter.canvas}
      box={placedBox(painter.canvas, painter.placement)}
      placement={painter.placement}
      opacity={opacity}
      blend={blend}
      ref={node}
    />
  )
}

/** The brush as the cursor: its outline at its size on the canvas, so it scales with the zoom;
 * the colour picker's crosshair instead while picking. */
export function BrushOutline({ painter, at, scale }: { painter: Painter; at: Point; scale: number }) {
  useSyncExternalStore(painter.subscribe, () => painter.version)
  if (painter.tool === 'picker') {
    const arm = 8 / scale
    const cross = (points: number[], colour: string, width: number) => (
      <Line points={points} stroke={colour} strokeWidth={width / scale} listening={false} />
    )
    return (
      <>
        {cross([at.x - arm, at.y, at.x + arm, at.y], '#000', 3)}
        {cross([at.x, at.y - arm, at.x, at.y + arm], '#000', 3)}
        {cross([at.x - arm, at.y, at.x + arm, at.y], '#fff', 1)}
        {cross([at.x, at.y - arm, at.x, at.y + arm], '#fff', 1)}
        <Circle name="picker-cursor" x={at.x} y={at.y} radius={1 / scale} fill="#fff" listening={false} />
      </>
    )
  }
  const radius = (painter.size / 2) * painter.placement.scale
  return (
    <>
      <Circle x={at.x} y={at.y} radius={radius + 1 / scale} stroke="#000" strokeWidth={1 / scale} listening={false} />
      <Circle name="brush-outline" x={at.x} y={at.y} radius={radius} stroke="#fff" strokeWidth={1 / scale} listening={false} />
    </>
  )
}
