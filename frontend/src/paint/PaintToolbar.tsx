import { useState, useSyncExternalStore } from 'react'
import type { ColourPainter } from './colourPainter'
import { SizeSlider, Slider, StrokeHistory, ToolButtons } from './controls'
import { usePaintKeys } from './usePaintKeys'

interface PaintToolbarProps {
  painter: ColourPainter
  /** The name of the paint layer being painted. */
  target: string
  onDone: () => Promise<void>
}

const percent = (value: number) => Math.round(value * 100)

/** Floats over the top of the canvas while a paint layer is painted (as the mask's does): the
 * tools, the colour, the brush's size, hardness and opacity, stroke undo, and Done (Esc). */
export function PaintToolbar({ painter, target, onDone }: PaintToolbarProps) {
  useSyncExternalStore(painter.subscribe, () => painter.version)
  const [saving, setSaving] = useState(false)
  const finish = () => {
    if (saving) return
    setSaving(true)
    void onDone().finally(() => setSaving(false))
  }
  usePaintKeys(painter, finish)
  return (
    <div className="mask-toolbar paint-toolbar" role="toolbar" aria-label="Painting" title={`Painting “${target}”`}>
      <ToolButtons painter={painter} />
      <label className="colour-swatch" title="Brush colour (the picker, I or Alt+click, takes one from the canvas)">
        <span className="sr-only">Colour</span>
        <input type="color" value={painter.hex} onChange={(e) => painter.setColour(e.target.value)} />
      </label>
      <SizeSlider painter={painter} />
      <Slider
        label="Hardness"
        title="Hardness: 100% is a hard edge, less a soft one"
        min={0}
        max={100}
        value={percent(painter.hardness)}
        shown={`hard ${percent(painter.hardness)}%`}
        onChange={(value) => painter.setHardness(value / 100)}
      />
      <Slider
        label="Opacity"
        title="Opacity: the most one stroke covers"
        min={1}
        max={100}
        value={percent(painter.opacity)}
        shown={`opacity ${percent(painter.opacity)}%`}
        onChange={(value) => painter.setOpacity(value / 100)}
      />
      <StrokeHistory painter={painter} />
      <span className="toolbar-spacer" />
      <button type="button" className="primary" disabled={saving} title="Save the painting and stop painting (Esc)" onClick={finish}>
        Done
      </button>
    </div>
  )
}
