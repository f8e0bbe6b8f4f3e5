import { useState, useSyncExternalStore } from 'react'
import { SizeSlider, StrokeHistory, ToolButtons } from '../paint/controls'
import { usePaintKeys } from '../paint/usePaintKeys'
import type { MaskPainter } from './painter'

interface MaskToolbarProps {
  painter: MaskPainter
  /** The name of the mask layer being repainted; null for a new mask. */
  target: string | null
  onSave: () => Promise<void>
  onCancel: () => void
}

/** Floats over the top of the canvas (which keeps its place) while a mask is painted. */
export function MaskToolbar({ painter, target, onSave, onCancel }: MaskToolbarProps) {
  useSyncExternalStore(painter.subscribe, () => painter.version)
  usePaintKeys(painter, onCancel)
  const [saving, setSaving] = useState(false)
  return (
    <div className="mask-toolbar" role="toolbar" aria-label="Mask painting" title={target === null ? 'Paint a mask' : `Repaint “${target}”`}>
      <ToolButtons painter={painter} />
      <SizeSlider painter={painter} />
      <StrokeHistory painter={painter} />
      <button type="button" onClick={() => painter.clear()}>
        Clear
      </button>
      <button type="button" onClick={() => painter.invert()}>
        Invert
      </button>
      <span className="toolbar-spacer" />
      <button
        type="button"
        className="primary"
        disabled={saving}
        onClick={() => {
          setSaving(true)
          void onSave().finally(() => setSaving(false))
        }}
      >
        {target === null ? 'Save mask layer' : 'Save mask'}
      </button>
      <button type="button" title="Cancel (Esc)" onClick={onCancel}>
        Cancel
      </button>
    </div>
  )
}
