import { useEffect, useMemo, useState, type FormEvent } from 'react'
import type { Layer, LayerInput, OpInfo } from '../api/types'
import { lorasMismatch, modelFamily, withTriggers } from '../forms/loras'
import { formPresets } from '../forms/presets'
import {
  formFields,
  initialValues,
  modelDefaults,
  placeError,
  rowsOf,
  tickMadeBy,
  toRequest,
  type FieldErrors,
  type FieldValue,
  type FormValues,
} from '../forms/schemaForm'
import { generateInRegion, nativeSide } from '../region/generate'
import { RegionOption } from '../region/RegionOption'
import { useRegionForm } from '../region/useRegionForm'
import { isApiError } from '../state/controller'
import { useAppState, useController } from '../state/context'
import { InlineText } from '../text/InlineText'
import { Field } from './fields'
import { PresetSelect } from './PresetSelect'
import { useListing } from './useListing'

interface OpFormProps {
  op: OpInfo
  /** The layer whose recipe this form edits; absent when adding a layer. */
  editing?: Layer
  onDone: () => void
}

function withoutNulls(inputs: Record<string, LayerInput | null>): Record<string, LayerInput> {
  return Object.fromEntries(Object.entries(inputs).filter((e): e is [string, LayerInput] => e[1] !== null))
}

/** The form generated from an op's schema: adds a layer, or edits a layer's recipe (which re-runs it). */
export function OpForm({ op, editing, onDone }: OpFormProps) {
  const controller = useController()
  const layers = useAppState((s) => s.project?.layers ?? [])
  const selected = useAppState((s) => s.selectedLayer)
  const width = useAppState((s) => s.project?.width ?? 0)
  const height = useAppState((s) => s.project?.height ?? 0)
  const allFields = useMemo(() => formFields(op.schema), [op])
  const region = useRegionForm(op.schema, editing === undefined)
  // In a region, the region's canvas is the image (or sets the size): those fields go.
  const replaced = region.on ? region.replaced.join(' ') : ''
  const fields = useMemo(() => allFields.filter((f) => !replaced.split(' ').includes(f.name)), [allFields, replaced])
  const presets = useMemo(() => formPresets(op.schema, fields), [op, fields])
  const [values, setValues] = useState<FormValues>(() =>
    initialValues(allFields, { layers, selected, canvas: { width, height } }, editing?.recipe),
  )
  const [errors, setErrors] = useState<FieldErrors>({})
  const [formError, setFormError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const models = useListing(controller.api, 'models', fields.some((f) => f.kind === 'text' && f.suggestsModels))
  /** Per model field: which family's defaults its last pick applied. */
  const [modelHints, setModelHints] = useState<Record<string, string | null>>({})
  const loras = useListing(controller.api, 'loras', fields.some((f) => f.kind === 'loras'))
  const modelField = fields.find((f) => f.kind === 'text' && f.suggestsModels)
  // Embeddings go into the prompts of an op that runs a local model.
  const embeddings = useListing(controller.api, 'embeddings', modelField !== undefined && fields.some((f) => f.kind === 'textarea' && f.prompt))
  const family = modelFamily(models, modelField && values[modelField.name])
  // A listed LoRA's trigger words go to the op's prompt, when it has one.
  const hasPrompt = fields.some((f) => f.name === 'prompt' && (f.kind === 'text' || f.kind === 'textarea'))
  const prompt = typeof values.prompt === 'string' ? values.prompt : ''
  // The layer may go while its form is open (deleted in another tab, an undo): applying would fail.
  const gone = editing !== undefined && !layers.some((l) => l.id === editing.id)
  useEffect(() => {
    if (!gone) return
    controller.notify(`“${editing.name}” was deleted (in another tab, or by an undo): its edit is closed.`, 'info')
    onDone()
  }, [gone, controller, editing, onDone])

  const change = (name: string, value: FieldValue) => {
    const field = fields.find((f) => f.name === name)
    const isModel = field?.kind === 'text' && field.suggestsModels === true
    // Picking a listed model sets the parameters that suit its family; typing another changes nothing.
    const picked = isModel ? modelDefaults(fields, models.find((m) => m.model === value)) : null
    if (isModel) setModelHints((h) => ({ ...h, [name]: picked?.hint ?? null }))
    // Another model may fit the LoRAs: their errors (a family mismatch) go with it.
    const lorasFields = isModel ? fields.filter((f) => f.kind === 'loras').map((f) => f.name) : []
    const changed = new Set([name, ...Object.keys(picked?.values ?? {}), ...lorasFields])
    setValues((v) => tickMadeBy(fields, { ...v, [name]: value, ...picked?.values }, layers, name))
    setErrors((e) => Object.fromEntries(Object.entries(e).filter(([k]) => !changed.has(k))))
  }

  const applyPreset = (picked: FormValues) => {
    setValues((v) => ({ ...v, ...picked }))
    setErrors((e) => Object.fromEntries(Object.entries(e).filter(([k]) => !Object.hasOwn(picked, k))))
  }

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const { request, errors: local } = toRequest(fields, values, editing !== undefined)
    // A LoRA made for another family than the model is refused at run time: say so before sending.
    for (const field of fields) {
      const mismatch = field.kind === 'loras' && !local[field.name] ? lorasMismatch(rowsOf(values[field.name]), loras, family) : null
      if (mismatch !== null) local[field.name] = [mismatch]
    }
    setErrors(local)
    setFormError(null)
    if (Object.keys(local).length > 0) return
    setBusy(true)
    try {
      if (region.on) {
        const native = nativeSide(models, values[region.target.model])
        await generateInRegion(controller, { op: op.name, target: region.target, region: region.box, params: request.params, inputs: withoutNulls(request.inputs), native })
      } else if (editing === undefined) {
        await controller.addLayer({ op: op.name, params: request.params, inputs: withoutNulls(request.inputs) })
      } else {
        await controller.editLayer(editing.id, request)
      }
      onDone()
    } catch (err) {
      if (!isApiError(err)) throw err
      const byField: FieldErrors = {}
      let unplaced = false
      for (const fe of err.fieldErrors) {
        const placed = placeError(fields, fe.param, fe.message)
        if (placed === null) unplaced = true
        else byField[placed.name] = [...(byField[placed.name] ?? []), placed.message]
      }
      setErrors(byField)
      if (unplaced || Object.keys(byField).length === 0) setFormError(err.message)
    } finally {
      setBusy(false)
    }
  }

  const title = editing === undefined ? op.title : `Edit “${editing.name}”`
  return (
    <form className="op-form" onSubmit={(e) => void submit(e)} aria-label={title} noValidate>
      <h2 className="panel-title">{title}</h2>
      {editing !== undefined && <p className="hint">{op.title}: applying re-runs this layer and the layers made from it.</p>}
      {op.description && editing === undefined && (
        <p className="hint op-description">
          <InlineText text={op.description} />
        </p>
      )}
      {!op.deterministic && <p className="hint">This operation is not deterministic: replays may differ.</p>}
      {region.offered && (
        <RegionOption box={region.box} target={region.target} native={nativeSide(models, values[region.target.model])} on={region.on} onChange={region.setOn} />
      )}
      <PresetSelect presets={presets} values={values} onApply={applyPreset} />
      {fields.map((field) => (
        <Field
          key={field.name}
          field={field}
          value={values[field.name]}
          onChange={(v) => change(field.name, v)}
          errors={errors[field.name] ?? []}
          layers={layers}
          editing={editing?.id}
          models={models}
          loras={loras}
          embeddings={embeddings}
          modelFamily={family}
          onTriggers={hasPrompt ? (triggers) => change('prompt', withTriggers(prompt, triggers)) : undefined}
          note={modelHints[field.name] ?? undefined}
        />
      ))}
      {formError !== null && (
        <p className="field-error" role="alert">
          {formError}
        </p>
      )}
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy}>
          {editing === undefined ? 'Add layer' : 'Apply'}
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  )
}
