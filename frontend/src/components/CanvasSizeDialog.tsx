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

/** The new canvas's width and height and the anchor picker, as Canvas size and Outpaint ask them. */
export function CanvasSizeFields(props: {
  width: string
  height: string
  anchor: Anchor
  onWidth: (value: string) => void
  onHeight: (value: string) => void
  onAnchor: (anchor: Anchor) => void
}) {
  return (
    <div className="canvas-size-fields">
      <label>
        Width
        <input type="number" required min={MIN_SIDE} max={MAX_SIDE} step={1} value={props.width} onChange={(e) => props.onWidth(e.target.value)} />
      </label>
      <label>
        Height
        <input type="number" required min={MIN_SIDE} max={MAX_SIDE} step={1} value={props.height} onChange={(e) => props.onHeight(e.target.value)} />
      </label>
      <AnchorPicker anchor={props.anchor} onChange={props.onAnchor} />
    </div>
  )
}

/** A dialog's request: `busy` while it runs, the server's refusal as `error`, `onDone` once it
 * went through. */
export function useSubmission(onDone: () => void) {
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (request: () => Promise<unknown>) => {
    setBusy(true)
    setError(null)
    try {
      await request()
      onDone()
    } catch (e) {
      setError(errorText(e))
    } finally {
      setBusy(false)
    }
  }
  return { error, setError, busy, submit }
}

/** The end of a dialog's form: its error, the submit button and Cancel. */
export function FormEnd({ error, label, disabled, onCancel }: { error: string | null; label: string; disabled: boolean; onCancel: () => void }) {
  return (
    <>
      {error !== null && (
        <p role="alert" className="field-error">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button type="submit" className="primary" disabled={disabled}>
          {label}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </>
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
  const { error, busy, submit } = useSubmission(onClose)
  const apply = (change: CanvasChange) => submit(() => controller.changeCanvas(change))

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
        <CanvasSizeFields width={width} height={height} anchor={anchor} onWidth={setWidth} onHeight={setHeight} onAnchor={setAnchor} />
        <FormEnd error={error} label="Resize canvas" disabled={busy} onCancel={onClose} />
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
