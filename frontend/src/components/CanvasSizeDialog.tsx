import { useState } from 'react'
import { ApiError } from '../api/client'
import type { Anchor, CanvasChange, Project } from '../api/types'
import { layerById } from '../state/app'
import { useAppState, useController } from '../state/context'
import { Modal } from './Modal'

/** The server's bounds of a canvas side, checked here first as the new-project form does. */
export const MIN_SIDE = 8
export const MAX_SIDE = 8192

/** The 3 × 3 anchors, row by row, with the words a screen reader says. */
const ANCHORS: [Anchor, string][] = [
  ['top-left', 'top left'],
  ['top', 'top'],
  ['top-right', 'top right'],
  ['left', 'left'],
  ['center', 'centre'],
  ['right', 'right'],
  ['bottom-left', 'bottom left'],
  ['bottom', 'bottom'],
  ['bottom-right', 'bottom right'],
]

export function errorText(error: unknown): string {
  if (!(error instanceof ApiError)) return error instanceof Error ? error.message : String(error)
  const fields = error.fieldErrors.map((e) => e.message).filter((m) => !error.message.includes(m))
  return [error.message, ...fields].join(' ')
}

/** The 3 × 3 anchor picker: which part of the picture stays put. */
export function AnchorPicker({ anchor, onChange }: { anchor: Anchor; onChange: (anchor: Anchor) => void }) {
  return (
    <fieldset className="anchor-picker">
      <legend>Anchor</legend>
      {ANCHORS.map(([value, words]) => (
        <label key={value} title={`Keep the ${words} in place`}>
          <input type="radio" name="anchor" value={value} checked={anchor === value} aria-label={`Anchor ${words}`} onChange={() => onChange(value)} />
          <span aria-hidden="true" />
        </label>
      ))}
    </fieldset>
  )
}

/** Photoshop's Canvas Size: a new width and height, the anchor saying which part of the
 * picture stays put (the layers keep their place relative to it); or the canvas fitted to the
 * selected layer. Undo takes either back. */
export function CanvasSizeDialog({ project, onClose }: { project: Project; onClose: () => void }) {
  const controller = useController()
  const selected = useAppState((s) => layerById(s.project, s.selectedLayer))
  const [width, setWidth] = useState(String(project.width))
  const [height, setHeight] = useState(String(project.height))
  const [anchor, setAnchor] = useState<Anchor>('center')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  const apply = async (change: CanvasChange) => {
    setBusy(true)
    setError(null)
    try {
      await controller.changeCanvas(change)
      onClose()
    } catch (e) {
      setError(errorText(e))
    } finally {
      setBusy(false)
    }
  }

  return (
    <Modal title="Canvas size" onClose={onClose}>
      <form
        className="canvas-size-form"
        onSubmit={(e) => {
          e.preventDefault()
          void apply({ width: Number(width), height: Number(height), anchor })
        }}
      >
        <p className="hint">
          Now {project.width} × {project.height} px.
        </p>
        <div className="canvas-size-fields">
          <label>
            Width
            <input type="number" required min={MIN_SIDE} max={MAX_SIDE} step={1} value={width} onChange={(e) => setWidth(e.target.value)} />
          </label>
          <label>
            Height
            <input type="number" required min={MIN_SIDE} max={MAX_SIDE} step={1} value={height} onChange={(e) => setHeight(e.target.value)} />
          </label>
          <AnchorPicker anchor={anchor} onChange={setAnchor} />
        </div>
        {error !== null && (
          <p role="alert" className="field-error">
            {error}
          </p>
        )}
        <div className="form-actions">
          <button type="submit" className="primary" disabled={busy}>
            Resize canvas
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
      <div className="canvas-fit">
        {selected === undefined ? (
          <p className="hint">Select a layer to fit the canvas to it.</p>
        ) : (
          <button type="button" disabled={busy} onClick={() => void apply({ fit: selected.id })}>
            Fit canvas to “{selected.name}”
          </button>
        )}
      </div>
    </Modal>
  )
}
