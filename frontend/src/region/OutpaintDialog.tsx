import { useMemo, useState } from 'react'
import type { Anchor, OutpaintCreate, Project } from '../api/types'
import { CanvasSizeFields, FormEnd, MAX_SIDE, useSubmission } from '../components/CanvasSizeDialog'
import { Field } from '../components/fields'
import { Modal } from '../components/Modal'
import { useListing } from '../components/useListing'
import { formFields, initialValues, toRequest, type FieldErrors, type FieldValue, type FormValues } from '../forms/schemaForm'
import { useAppState, useController } from '../state/context'
import { extendCanvas, OUTPAINT_PARAMS, type Side } from './outpaint'

const SIDES: [Side, string][] = [
  ['left', 'Left'],
  ['right', 'Right'],
  ['top', 'Top'],
  ['bottom', 'Bottom'],
  ['all', 'All sides'],
]
const FEATHER = 16

/** Outpainting: the canvas grows (a new size and an anchor, or N px added on a side) and its new
 * area is inpainted over the picture, blending into it over a soft seam; one undo step. */
export function OutpaintDialog({ project, onClose }: { project: Project; onClose: () => void }) {
  const controller = useController()
  const inpaint = useAppState((s) => s.catalog?.ops.find((o) => o.name === 'mask_and_inpaint'))
  const fields = useMemo(() => (inpaint === undefined ? [] : formFields(inpaint.schema).filter((f) => OUTPAINT_PARAMS.includes(f.name))), [inpaint])
  const [values, setValues] = useState<FormValues>(() => initialValues(fields, { layers: [], selected: null }))
  const [errors, setErrors] = useState<FieldErrors>({})
  const models = useListing(controller.api, 'models', true)
  const [width, setWidth] = useState(String(project.width))
  const [height, setHeight] = useState(String(project.height))
  const [anchor, setAnchor] = useState<Anchor>('center')
  const [pixels, setPixels] = useState('256')
  const [feather, setFeather] = useState(String(FEATHER))
  const { error, setError, busy, submit: send } = useSubmission(onClose)

  const extend = (side: Side) => {
    const next = extendCanvas(project, side, Number(pixels) || 0)
    setWidth(String(next.width))
    setHeight(String(next.height))
    setAnchor(next.anchor)
  }

  const submit = async () => {
    const { request, errors: local } = toRequest(fields, values)
    setErrors(local)
    setError(null)
    if (Object.keys(local).length > 0) return
    if (Number(width) <= project.width && Number(height) <= project.height) {
      setError(`Make the canvas larger than ${project.width} × ${project.height} px: outpainting fills the area added.`)
      return
    }
    await send(() =>
      controller.outpaint({ width: Number(width), height: Number(height), anchor, feather: Number(feather), params: request.params as OutpaintCreate['params'] }),
    )
  }

  return (
    <Modal title="Outpaint" onClose={onClose}>
      <form
        className="canvas-size-form outpaint-form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault()
          void submit()
        }}
      >
        <p className="hint">
          Now {project.width} × {project.height} px. The canvas grows and the new area is painted to continue the picture.
        </p>
        <CanvasSizeFields width={width} height={height} anchor={anchor} onWidth={setWidth} onHeight={setHeight} onAnchor={setAnchor} />
        <div className="outpaint-add" role="group" aria-label="Add pixels">
          <label>
            Add
            <input type="number" min={1} max={MAX_SIDE} step={1} value={pixels} aria-label="Pixels to add" onChange={(e) => setPixels(e.target.value)} /> px to
          </label>
          {SIDES.map(([side, words]) => (
            <button key={side} type="button" onClick={() => extend(side)}>
              {words}
            </button>
          ))}
        </div>
        {inpaint === undefined ? (
          <p className="field-error">The “mask_and_inpaint” op is not installed, so the new area cannot be filled.</p>
        ) : (
          fields.map((field) => (
            <Field
              key={field.name}
              field={field}
              value={values[field.name]}
              onChange={(v: FieldValue) => setValues((old) => ({ ...old, [field.name]: v }))}
              errors={errors[field.name] ?? []}
              layers={[]}
              models={models}
            />
          ))
        )}
        <label>
          Seam softness (px)
          <input type="number" min={0} max={256} step={1} value={feather} onChange={(e) => setFeather(e.target.value)} />
        </label>
        <FormEnd error={error} label="Outpaint" disabled={busy || inpaint === undefined} onCancel={onClose} />
      </form>
    </Modal>
  )
}
