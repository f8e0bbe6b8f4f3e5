import { useState, useSyncExternalStore } from 'react'
import type { MaskPainter } from './painter'

interface MaskToolbarProps {
  painter: MaskPainter
  /** The name of the mask layer being repainted; null for a new mask. */
  target: string | null
  onSave: () => Promise<void>
  onCancel: () => void
}

export function MaskToolbar({ painter, target, onSave, onCancel }: MaskToolbarProps) {
  useSyncExternalStore(painter.subscribe, () => painter.version)
  const [saving, setSaving] = useState(false)
  return (
    <div className="mask-toolbar" role="toolbar" aria-label="Mask painting">
      <strong>{target === null ? 'Paint a mask' : `Repaint “${target}”`}</strong>
      <button type="button" aria-pressed={painter.tool === 'brush'} onClick={() => painter.setTool('brush')}>
        Brush
      </button>
      <button type="button" aria-pressed={painter.tool === 'eraser'} onClick={() => painter.setTool('eraser')}>
        Eraser
      </button>
      <label className="brush-size">
        Size
        <input type="range" min={1} max={256} value={painter.size} onChange={(e) => painter.setSize(Number(e.target.value))} />
        <span className="opacity-value">{painter.size}px</span>
      </label>
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
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
    </div>
  )
}
