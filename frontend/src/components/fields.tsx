import type { Layer, LocalEmbedding, LocalLora, LocalModel } from '../api/types'
import type { ModelFamily } from '../forms/loras'
import {
  layerChoices,
  layerIds,
  randomSeed,
  rowsOf,
  type FieldValue,
  type FormField,
  type LayerField,
  type NumberField,
} from '../forms/schemaForm'
import { InlineText } from '../text/InlineText'
import { withArticle } from '../text/markup'
import { EmbeddingPicker } from './EmbeddingPicker'
import { DiceIcon } from './icons'
import { LorasField } from './LorasField'
import { PickField } from './PickField'

interface FieldProps {
  field: FormField
  value: FieldValue
  onChange: (value: FieldValue) => void
  errors: string[]
  layers: Layer[]
  /** The layer being edited: never offered as its own input. */
  editing?: string
  /** The models available here, offered by `model` fields. */
  models?: LocalModel[]
  /** The LoRA files available here, offered by `loras` fields. */
  loras?: LocalLora[]
  /** The embeddings available here, offered under prompts (empty: the op has no local model). */
  embeddings?: LocalEmbedding[]
  /** The family of the op's model when known, for `loras` fields to flag LoRAs made for another. */
  modelFamily?: ModelFamily | null
  /** Appends a LoRA's trigger words to the op's prompt; absent when the op has none. */
  onTriggers?: (triggers: string[]) => void
  /** A line under the control saying what it just did (e.g. which model defaults were applied). */
  note?: string
}

function formatBytes(bytes: number): string {
  const gb = bytes / 2 ** 30
  return gb >= 1 ? `${gb.toFixed(1)} GB` : `${Math.max(1, Math.round(bytes / 2 ** 20))} MB`
}

function inputId(field: FormField): string {
  return `field-${field.name}`
}

function FieldErrors({ field, errors }: { field: FormField; errors: string[] }) {
  if (errors.length === 0) return null
  return (
    <p id={`${inputId(field)}-error`} className="field-error" role="alert">
      {errors.join('; ')}
    </p>
  )
}

function describedBy(field: FormField, errors: string[]): string | undefined {
  const ids = [field.description ? `${inputId(field)}-help` : '', errors.length > 0 ? `${inputId(field)}-error` : '']
  return ids.filter(Boolean).join(' ') || undefined
}

function NumberInput({ field, value, onChange, errors }: FieldProps & { field: NumberField }) {
  const text = typeof value === 'string' ? value : ''
  const number = Number(text)
  const common = {
    min: field.min,
    max: field.max,
    step: field.step,
    'aria-invalid': errors.length > 0,
    'aria-describedby': describedBy(field, errors),
  }
  return (
    <div className="number-row">
      {field.kind === 'slider' && (
        <input
          type="range"
          aria-label={`${field.label} slider`}
          {...common}
          value={text === '' || !Number.isFinite(number) ? (field.min ?? 0) : number}
          onChange={(e) => onChange(e.target.value)}
        />
      )}
      <input
        id={inputId(field)}
        type="number"
        className={field.kind === 'slider' ? 'number-small' : undefined}
        {...common}
        value={text}
        placeholder={field.nullable ? 'default' : undefined}
        onChange={(e) => onChange(e.target.value)}
      />
      {field.kind === 'seed' && (
        <button
          type="button"
          className="icon-button"
          aria-label="Random seed"
          title="Random seed"
          onClick={() => onChange(String(randomSeed(field)))}
        >
          <DiceIcon />
        </button>
      )}
    </div>
  )
}

function LayerPicker({ field, value, onChange, errors, layers, editing }: FieldProps & { field: LayerField }) {
  const choices = layerChoices(field, layers, editing)
  const kindText = field.layerKind === 'any' ? 'layer' : `${field.layerKind} layer`
  if (field.kind === 'layers') {
    const picked = layerIds(value)
    return (
      <div id={inputId(field)} className="layer-multi" role="group" aria-label={field.label}>
        {choices.length === 0 && <p className="hint">No {kindText} yet.</p>}
        {choices.map((layer) => (
          <label key={layer.id} className="check">
            <input
              type="checkbox"
              checked={picked.includes(layer.id)}
              onChange={(e) => onChange(e.target.checked ? [...picked, layer.id] : picked.filter((id) => id !== layer.id))}
            />
            {layer.name} <span className="hint">({layer.id})</span>
          </label>
        ))}
      </div>
    )
  }
  return (
    <select
      id={inputId(field)}
      value={typeof value === 'string' ? value : ''}
      aria-invalid={errors.length > 0}
      aria-describedby={describedBy(field, errors)}
      onChange={(e) => onChange(e.target.value)}
    >
      <option value="">{choices.length === 0 ? `No ${kindText} yet` : `Choose ${withArticle(kindText)}`}</option>
      {choices.map((layer) => (
        <option key={layer.id} value={layer.id}>
          {layer.name} ({layer.id})
        </option>
      ))}
    </select>
  )
}

function Control(props: FieldProps) {
  const { field, value, onChange, errors } = props
  const aria = {
    'aria-invalid': errors.length > 0,
    'aria-describedby': describedBy(field, errors),
    'aria-required': field.required || undefined,
  }
  switch (field.kind) {
    case 'textarea': {
      const text = typeof value === 'string' ? value : ''
      return (
        <>
          <textarea id={inputId(field)} rows={field.required ? 4 : 2} maxLength={field.maxLength} value={text} onChange={(e) => onChange(e.target.value)} {...aria} />
          {field.prompt && <EmbeddingPicker label={field.label} embeddings={props.embeddings ?? []} model={props.modelFamily ?? null} text={text} onChange={onChange} />}
        </>
      )
    }
    case 'text':
      return (
        <>
          <input
            id={inputId(field)}
            type="text"
            maxLength={field.maxLength}
            value={typeof value === 'string' ? value : ''}
            onChange={(e) => onChange(e.target.value)}
            list={field.suggestsModels ? `${inputId(field)}-models` : undefined}
            {...aria}
          />
          {field.suggestsModels && (
            <datalist id={`${inputId(field)}-models`}>
              {(props.models ?? []).map((m) => (
                <option key={m.model} value={m.model} label={`${m.title} · ${formatBytes(m.bytes)}`} />
              ))}
            </datalist>
          )}
        </>
      )
    case 'pick':
      return <PickField field={field} id={inputId(field)} value={typeof value === 'string' ? value : ''} onChange={onChange} aria={aria} />
    case 'number':
    case 'slider':
    case 'seed':
      return <NumberInput {...props} field={field} />
    case 'select':
      return (
        <select id={inputId(field)} value={typeof value === 'string' ? value : ''} onChange={(e) => onChange(e.target.value)} {...aria}>
          {(field.nullable || field.default === undefined) && <option value="">—</option>}
          {field.options.map((o, i) => (
            <option key={o.label} value={String(i)}>
              {o.label}
            </option>
          ))}
        </select>
      )
    case 'checkbox':
      return <input id={inputId(field)} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} {...aria} />
    case 'layer':
    case 'layers':
      return <LayerPicker {...props} field={field} />
    case 'loras':
      return (
        <LorasField
          field={field}
          id={inputId(field)}
          rows={rowsOf(value)}
          onChange={onChange}
          loras={props.loras ?? []}
          model={props.modelFamily ?? null}
          onTriggers={props.onTriggers}
          aria={aria}
        />
      )
  }
}

/** One form row: label, control, help text and the errors for this field. */
export function Field(props: FieldProps) {
  const { field, errors } = props
  const labelClass = field.required ? 'field-label required' : 'field-label'
  return (
    <div className={`field field-${field.kind}`}>
      {field.kind === 'layers' || field.kind === 'loras' ? (
        <span className={labelClass}>{field.label}</span>
      ) : (
        <label className={labelClass} htmlFor={inputId(field)}>
          {field.label}
        </label>
      )}
      <Control {...props} />
      {props.note !== undefined && (
        <p className="hint" role="status">
          {props.note}
        </p>
      )}
      {field.description && (
        <p id={`${inputId(field)}-help`} className="hint">
          <InlineText text={field.description} />
        </p>
      )}
      <FieldErrors field={field} errors={errors} />
    </div>
  )
}
