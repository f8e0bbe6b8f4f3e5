/* The controls both painting toolbars (mask and colour) have: the tools, the brush size and
 * stroke undo/redo. */
import type { PaintTool, Painter } from './painter'

const TOOLS: Record<PaintTool, { label: string; title: string }> = {
  brush: { label: 'Brush', title: 'Brush (B; E toggles the eraser)' },
  eraser: { label: 'Eraser', title: 'Eraser (E toggles)' },
  picker: { label: 'Picker', title: 'Colour picker (I; or Alt+click with the brush): takes a colour from the canvas' },
}

export function ToolButtons({ painter }: { painter: Painter }) {
  return (
    <>
      {painter.tools.map((tool) => (
        <button key={tool} type="button" aria-pressed={painter.tool === tool} title={TOOLS[tool].title} onClick={() => painter.setTool(tool)}>
          {TOOLS[tool].label}
        </button>
      ))}
    </>
  )
}

/** A slider with its name read out and its value shown (e.g. "40px"). */
export function Slider({ label, title, min, max, value, shown, onChange }: {
  label: string
  title: string
  min: number
  max: number
  value: number
  shown: string
  onChange: (value: number) => void
}) {
  return (
    <label className="brush-size" title={title}>
      <span className="sr-only">{label}</span>
      <input type="range" min={min} max={max} value={value} onChange={(e) => onChange(Number(e.target.value))} />
      <span className="opacity-value">{shown}</span>
    </label>
  )
}

export function SizeSlider({ painter }: { painter: Painter }) {
  return (
    <Slider
      label="Size"
      title="Brush size in the layer's pixels ([ and ] change it)"
      min={1}
      max={painter.maxSize}
      value={painter.size}
      shown={`${painter.size}px`}
      onChange={(size) => painter.setSize(size)}
    />
  )
}

export function StrokeHistory({ painter }: { painter: Painter }) {
  return (
    <>
      <button type="button" className="icon-button" aria-label="Undo stroke" title="Undo stroke (Ctrl+Z)" disabled={!painter.canUndo} onClick={() => painter.undo()}>
        ↶
      </button>
      <button type="button" className="icon-button" aria-label="Redo stroke" title="Redo stroke (Ctrl+Shift+Z)" disabled={!painter.canRedo} onClick={() => painter.redo()}>
        ↷
      </button>
    </>
  )
}
