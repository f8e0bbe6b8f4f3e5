import { useEffect, useState, useSyncExternalStore } from 'react'
import { biggerBrush, paintCommand, smallerBrush, typesText } from './keys'
import type { MaskPainter } from './painter'

interface MaskToolbarProps {
  painter: MaskPainter
  /** The name of the mask layer being repainted; null for a new mask. */
  target: string | null
  onSave: () => Promise<void>
  onCancel: () => void
}

/** Paint mode's keys: stroke undo/redo, Esc, `[` `]` and E (see `paintCommand`). */
function usePaintKeys(painter: MaskPainter, onExit: () => void) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (typesText(e.target)) return
      const command = paintCommand(e)
      if (command === null) return
      e.preventDefault()
      if (command === 'undo') painter.undo()
      else if (command === 'redo') painter.redo()
      else if (command === 'exit') onExit()
      else if (command === 'smaller') painter.setSize(smallerBrush(painter.size))
      else if (command === 'bigger') painter.setSize(biggerBrush(painter.size, painter.maxSize))
      else painter.setTool(painter.tool === 'brush' ? 'eraser' : 'brush')
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [painter, onExit])
}

/** Floats over the top of the canvas (which keeps its place) while a mask is painted. */
export function MaskToolbar({ painter, target, onSave, onCancel }: MaskToolbarProps) {
  useSyncExternalStore(painter.subscribe, () => painter.version)
  usePaintKeys(painter, onCancel)
  const [saving, setSaving] = useState(false)
  return (
    <div className="mask-toolbar" role="toolbar" aria-label="Mask painting" title={target === null ? 'Paint a mask' : `Repaint “${target}”`}>
      <button type="button" aria-pressed={painter.tool === 'brush'} title="Brush (E toggles)" onClick={() => painter.setTool('brush')}>
        Brush
      </button>
      <button type="button" aria-pressed={painter.tool === 'eraser'} title="Eraser (E toggles)" onClick={() => painter.setTool('eraser')}>
        Eraser
      </button>
      <label className="brush-size" title="Brush size in image pixels ([ and ] change it)">
        <span className="sr-only">Size</span>
        <input type="range" min={1} max={painter.maxSize} value={painter.size} onChange={(e) => painter.setSize(Number(e.target.value))} />
        <span className="opacity-value">{painter.size}px</span>
      </label>
      <button type="button" className="icon-button" aria-label="Undo stroke" title="Undo stroke (Ctrl+Z)" disabled={!painter.canUndo} onClick={() => painter.undo()}>
        ↶
      </button>
      <button type="button" className="icon-button" aria-label="Redo stroke" title="Redo stroke (Ctrl+Shift+Z)" disabled={!painter.canRedo} onClick={() => painter.redo()}>
        ↷
      </button>
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
