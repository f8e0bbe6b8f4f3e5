import { paramPath } from '../api/client'
import type { JsonSchema, Layer, LayerInput, LocalModel, Recipe } from '../api/types'
import type { PickKind } from '../canvas/pickFormat'
import { descendants } from '../state/dag'
import { loraErrorMessage, loraRefs, loraRows, loraWeight, type LoraRow, type LoraWeight } from './loras'

export type LayerFilter = 'image' | 'mask' | 'any'

interface FieldBase {
  name: string
  label: string
  description: string
  required: boolean
  /** An `Optional[...]` parameter: an empty value sends null. */
  nullable: boolean
}

export interface TextField extends FieldBase {
  kind: 'text' | 'textarea'
  default: string | null
  maxLength?: number
  pattern?: string
  /** `x-opendream-widget: "model"`: offer the models available here; free text still goes. */
  suggestsModels?: boolean
  /** `x-opendream-prompt`: a model's text prompt, where the embeddings found here are offered. */
  prompt?: boolean
}

/** Text that can also be picked on the canvas: `x-opendream-widget: "points"` or `"box"`. */
export interface PickField extends FieldBase {
  kind: 'pick'
  pick: PickKind
  default: string | null
  maxLength?: number
}

export interface NumberField extends FieldBase {
  kind: 'number' | 'slider' | 'seed'
  default: number | null
  integer: boolean
  min?: number
  max?: number
  exclusiveMin: boolean
  exclusiveMax: boolean
  step: number
  /** The schema's `multipleOf`: values off this grid are refused, as the server would. */
  multipleOf?: number
  /** `x-opendream-canvas`: the canvas side this value defaults to, as on the server. */
  canvasSide?: 'width' | 'height'
}

export interface SelectField extends FieldBase {
  kind: 'select'
  default: unknown
  options: { value: unknown; label: string }[]
}

export interface CheckboxField extends FieldBase {
  kind: 'checkbox'
  default: boolean | null
  /** The op declares what ticks it: the layer in `input` was made by `op` (e.g. "image is an
   * edge map" when the image is a Canny edges layer). */
  madeBy?: { input: string; op: string }
}

interface LayerFieldBase extends FieldBase {
  layerKind: LayerFilter
  maxItems?: number
}

/** One layer id; a list of them for `list[ImageLayer]` parameters. */
export type LayerField = (LayerFieldBase & { kind: 'layer' }) | (LayerFieldBase & { kind: 'layers' })

/** `x-opendream-widget: "loras"`: a list of `{model, weight}` rows (`opendream.fields.Loras`). */
export interface LorasField extends FieldBase {
  kind: 'loras'
  weight: LoraWeight
  maxItems?: number
}

export type FormField = TextField | PickField | NumberField | SelectField | CheckboxField | LayerField | LorasField

/** What the form holds per field: text for text and number inputs (so typing "1." works),
 * a boolean for checkboxes, the option index for selects, layer ids for layer pickers, rows for LoRAs. */
export type FieldValue = string | boolean | string[] | LoraRow[]
export type FormValues = Record<string, FieldValue>

const SEED_MAX = 4294967295

function humanize(name: string): string {
  const words = name.replace(/_/g, ' ').trim()
  return words.charAt(0).toUpperCase() + words.slice(1)
}

function resolveRef(schema: JsonSchema, root: JsonSchema): JsonSchema {
  const ref = schema.$ref
  if (ref === undefined) return schema
  const name = ref.replace(/^#\/\$defs\//, '')
  const target = root.$defs?.[name]
  if (target === undefined) return schema
  const rest: JsonSchema = { ...schema }
  delete rest.$ref
  return { ...resolveRef(target, root), ...rest }
}

function isNullSchema(schema: JsonSchema): boolean {
  return schema.type === 'null'
}

/** Unwraps `anyOf: [X, {type: null}]` and `type: [X, "null"]`; the outer keywords win. */
function unwrapOptional(schema: JsonSchema, root: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  let resolved = resolveRef(schema, root)
  let nullable = false
  if (resolved.anyOf !== undefined) {
    const branches = resolved.anyOf.map((b) => resolveRef(b, root))
    const real = branches.filter((b) => !isNullSchema(b))
    nullable = real.length < branches.length
    if (real.length === 1) {
      const outer: JsonSchema = { ...resolved }
      delete outer.anyOf
      resolved = { ...real[0], ...outer }
    }
  }
  if (Array.isArray(resolved.type)) {
    const types = resolved.type.filter((t) => t !== 'null')
    nullable = nullable || types.length < resolved.type.length
    resolved = { ...resolved, type: types.length === 1 ? types[0] : types }
  }
  return { schema: resolved, nullable }
}

/** A power of ten giving about 100 to 1000 slider positions (so decimal defaults stay on the grid). */
function sliderStep(min: number, max: number): number {
  return 10 ** Math.floor(Math.log10((max - min) / 100))
}

function numberField(base: FieldBase, schema: JsonSchema): NumberField {
  const integer = schema.type === 'integer'
  const isSeed = integer && schema['x-opendream-widget'] === 'seed'
  const exclusiveMin = schema.exclusiveMinimum !== undefined
  const exclusiveMax = schema.exclusiveMaximum !== undefined
  let min = schema.minimum ?? schema.exclusiveMinimum
  let max = schema.maximum ?? schema.exclusiveMaximum
  if (isSeed) {
    min ??= 0
    max ??= SEED_MAX
  }
  const bounded = min !== undefined && max !== undefined
  const step = schema.multipleOf ?? (integer ? 1 : bounded ? sliderStep(min!, max!) : 0.01)
  const kind = isSeed ? 'seed' : bounded ? 'slider' : 'number'
  const fallback = typeof schema.default === 'number' ? schema.default : null
  return {
    ...base, kind, default: fallback, integer, min, max, exclusiveMin, exclusiveMax, step,
    multipleOf: schema.multipleOf, canvasSide: schema['x-opendream-canvas'],
  }
}

function enumOptions(schema: JsonSchema): unknown[] | undefined {
  if (schema.enum !== undefined) return schema.enum
  if (schema.const !== undefined) return [schema.const]
  if (schema.anyOf !== undefined && schema.anyOf.every((b) => b.const !== undefined)) {
    return schema.anyOf.map((b) => b.const)
  }
  return undefined
}

/** The form field for one property of an op's schema, or null for fields a form cannot edit. */
export function fieldFor(name: string, property: JsonSchema, root: JsonSchema): FormField | null {
  const { schema, nullable } = unwrapOptional(property, root)
  if (schema['x-opendream-asset'] === true) return null
  const base: FieldBase = {
    name,
    label: schema.title ?? humanize(name),
    description: schema.description ?? '',
    required: root.required?.includes(name) ?? false,
    nullable,
  }
  const layerKind = schema['x-opendream-layer'] ?? schema.items?.['x-opendream-layer']
  if (layerKind !== undefined) {
    if (schema.type === 'array') return { ...base, kind: 'layers', layerKind, maxItems: schema.maxItems }
    return { ...base, kind: 'layer', layerKind }
  }
  const options = enumOptions(schema)
  if (options !== undefined) {
    return { ...base, kind: 'select', default: schema.default, options: options.map((v) => ({ value: v, label: String(v) })) }
  }
  switch (schema.type) {
    case 'boolean':
      return {
        ...base,
        kind: 'checkbox',
        default: typeof schema.default === 'boolean' ? schema.default : null,
        madeBy: schema['x-opendream-made-by'],
      }
    case 'integer':
    case 'number':
      return numberField(base, schema)
    case 'array':
      if (schema['x-opendream-widget'] !== 'loras' || schema.items === undefined) return null
      return { ...base, kind: 'loras', weight: loraWeight(resolveRef(schema.items, root)), maxItems: schema.maxItems }
    case 'string': {
      const fallback = typeof schema.default === 'string' ? schema.default : null
      const widget = schema['x-opendream-widget']
      if (widget === 'points' || widget === 'box') {
        return { ...base, kind: 'pick', pick: widget, default: fallback, maxLength: schema.maxLength }
      }
      return {
        ...base,
        kind: widget === 'textarea' ? 'textarea' : 'text',
        default: fallback,
        maxLength: schema.maxLength,
        pattern: schema.pattern,
        suggestsModels: widget === 'model',
        prompt: schema['x-opendream-prompt'] === true,
      }
    }
    default:
      return null
  }
}

/** The form of an op, in the schema's property order. */
export function formFields(schema: JsonSchema): FormField[] {
  return Object.entries(schema.properties ?? {})
    .map(([name, property]) => fieldFor(name, property, schema))
    .filter((f): f is FormField => f !== null)
}

/** The layers a picker offers: those of the right kind, never the edited layer nor anything made from it. */
export function layerChoices(field: LayerField, layers: Layer[], editing?: string): Layer[] {
  const excluded = editing === undefined ? new Set<string>() : new Set([editing, ...descendants(layers, editing)])
  return layers
    .filter((l) => field.layerKind === 'any' || l.kind === field.layerKind)
    .filter((l) => !excluded.has(l.id))
    .reverse()
}

function optionIndex(field: SelectField, value: unknown): string {
  const index = field.options.findIndex((o) => JSON.stringify(o.value) === JSON.stringify(value))
  return index < 0 ? '' : String(index)
}

/** The layer ids of a `layers` value (the strings of a list). */
export function layerIds(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
}

/** The rows of a `loras` value. */
export function rowsOf(value: FieldValue | undefined): LoraRow[] {
  return Array.isArray(value) ? value.filter((v): v is LoraRow => typeof v === 'object') : []
}

function valueOf(field: FormField, value: unknown): FieldValue {
  switch (field.kind) {
    case 'checkbox':
      return value === true
    case 'select':
      return optionIndex(field, value)
    case 'layer':
      return typeof value === 'string' ? value : ''
    case 'layers':
      return layerIds(value)
    case 'loras':
      return loraRows(value, field.weight)
    default:
      return value === null || value === undefined ? '' : String(value)
  }
}

export interface FormContext {
  layers: Layer[]
  selected: string | null
  /** The project's size: parameters declared `x-opendream-canvas` default to it when their bounds allow. */
  canvas?: { width: number; height: number }
}

function canvasDefault(field: NumberField, canvas: FormContext['canvas']): number | undefined {
  if (canvas === undefined || field.canvasSide === undefined) return undefined
  const value = canvas[field.canvasSide]
  const fits = checkNumber(field, String(value))
  const onGrid = field.step <= 1 || value % field.step === 0
  return typeof fits === 'number' && onGrid ? value : undefined
}

function defaultOf(field: FormField, { layers, selected, canvas }: FormContext): FieldValue {
  if (field.kind === 'layers' || field.kind === 'loras') return []
  if (field.kind === 'layer') {
    const choices = layerChoices(field, layers)
    const preferred = choices.find((l) => l.id === selected) ?? (field.required ? choices[0] : undefined)
    return preferred?.id ?? ''
  }
  if (field.kind === 'slider' || field.kind === 'number') return valueOf(field, canvasDefault(field, canvas) ?? field.default)
  return valueOf(field, field.default)
}

/** The starting values: a layer's recipe when editing it, else the schema defaults, with layer
 * pickers set to the selected layer when it fits (or the topmost fitting one when required). */
export function initialValues(fields: FormField[], context: FormContext, recipe?: Recipe): FormValues {
  const values: FormValues = {}
  for (const field of fields) {
    const fromRecipe: unknown =
      recipe === undefined
        ? undefined
        : field.kind === 'layer' || field.kind === 'layers'
          ? recipe.inputs[field.name]
          : recipe.params[field.name]
    values[field.name] = fromRecipe === undefined ? defaultOf(field, context) : valueOf(field, fromRecipe)
  }
  return recipe === undefined ? tickMadeBy(fields, values, context.layers) : values
}

/** `values` with the checkboxes that follow an input (`madeBy`) set from the layer now picked
 * in it; only those following `changed` when given. */
export function tickMadeBy(fields: FormField[], values: FormValues, layers: Layer[], changed?: string): FormValues {
  const follow = fields.filter(
    (f): f is CheckboxField => f.kind === 'checkbox' && f.madeBy !== undefined && (changed === undefined || f.madeBy.input === changed),
  )
  if (follow.length === 0) return values
  const next = { ...values }
  for (const field of follow) {
    const picked = layers.find((l) => l.id === values[field.madeBy!.input])
    next[field.name] = picked?.recipe.op === field.madeBy!.op
  }
  return next
}

/** A model's family defaults as form values: only for fields the form has, never a layer, the
 * canvas-bound size (it follows the canvas) nor a model field, and only values the field takes. */
export function fittingValue(field: FormField, value: unknown): FieldValue | undefined {
  switch (field.kind) {
    case 'number':
    case 'slider':
    case 'seed':
      if (field.canvasSide !== undefined || typeof value !== 'number') return undefined
      return typeof checkNumber(field, String(value)) === 'number' ? String(value) : undefined
    case 'select': {
      const index = optionIndex(field, value)
      return index === '' ? undefined : index
    }
    case 'checkbox':
      return typeof value === 'boolean' ? value : undefined
    case 'text':
    case 'textarea':
      return typeof value === 'string' && !field.suggestsModels ? value : undefined
    default:
      return undefined
  }
}

export interface ModelDefaults {
  values: FormValues
  /** What was applied, for people: "Flux.1 defaults applied: steps 28, …". */
  hint: string
}

/** The values to set when `model` is picked: its family's defaults that fit this form; null when
 * none does (an unlisted model, an unknown family). */
export function modelDefaults(fields: FormField[], model: LocalModel | undefined): ModelDefaults | null {
  if (model === undefined) return null
  const values: FormValues = {}
  const shown: string[] = []
  for (const field of fields) {
    if (!Object.hasOwn(model.defaults, field.name)) continue
    const value = fittingValue(field, model.defaults[field.name])
    if (value === undefined) continue
    values[field.name] = value
    const text = field.kind === 'select' ? field.options[Number(value)].label : String(value)
    shown.push(`${field.label.toLowerCase()} ${text}`)
  }
  return shown.length === 0 ? null : { values, hint: `${model.title} defaults applied: ${shown.join(', ')}` }
}

/** Where a server error shows: the field its param names (`params.seed`, `seed`, or the
 * `loras` of `loras.0.weight`) and its message, naming the list item it is about; null when no
 * field of this form has it. */
export function placeError(fields: FormField[], param: string, message: string): { name: string; message: string } | null {
  const [name, ...rest] = paramPath(param)
  const field = fields.find((f) => f.name === name)
  if (field === undefined) return null
  return { name, message: field.kind === 'loras' ? loraErrorMessage(rest, message) : message }
}

export interface FormRequest {
  params: Record<string, unknown>
  inputs: Record<string, LayerInput | null>
}

export type FieldErrors = Record<string, string[]>

/** Whether `value` is a multiple of `step`, allowing for binary fractions (0.3 of 0.1). */
function isMultiple(value: number, step: number): boolean {
  const ratio = value / step
  return Math.abs(ratio - Math.round(ratio)) < 1e-9
}

function checkNumber(field: NumberField, text: string): number | string {
  const value = Number(text)
  if (!Number.isFinite(value)) return 'has to be a number'
  if (field.integer && !Number.isInteger(value)) return 'has to be a whole number'
  if (field.min !== undefined && (field.exclusiveMin ? value <= field.min : value < field.min)) {
    return `has to be ${field.exclusiveMin ? 'more than' : 'at least'} ${field.min}`
  }
  if (field.max !== undefined && (field.exclusiveMax ? value >= field.max : value > field.max)) {
    return `has to be ${field.exclusiveMax ? 'less than' : 'at most'} ${field.max}`
  }
  if (field.multipleOf !== undefined && !isMultiple(value, field.multipleOf)) return `has to be a multiple of ${field.multipleOf}`
  return value
}

/** Turns form values into a recipe's `params` and `inputs`, or per-field errors. An empty
 * optional value is left out (the op's default applies), or sent as null when `clearEmpty`
 * (an edit, where leaving it out would keep the old value). */
export function toRequest(
  fields: FormField[],
  values: FormValues,
  clearEmpty = false,
): { request: FormRequest; errors: FieldErrors } {
  const params: Record<string, unknown> = {}
  const inputs: Record<string, LayerInput | null> = {}
  const errors: FieldErrors = {}
  const fail = (name: string, message: string) => {
    errors[name] = [message]
  }
  const empty = (field: FormField) => {
    if (field.required) fail(field.name, 'is required')
    else if (field.nullable || clearEmpty) (field.kind === 'layer' ? inputs : params)[field.name] = null
  }
  for (const field of fields) {
    const value = values[field.name]
    switch (field.kind) {
      case 'layer':
        if (typeof value === 'string' && value !== '') inputs[field.name] = value
        else empty(field)
        break
      case 'layers': {
        const ids = layerIds(value)
        if (field.maxItems !== undefined && ids.length > field.maxItems) fail(field.name, `has to have at most ${field.maxItems} layers`)
        else if (ids.length === 0 && field.required) fail(field.name, 'is required')
        else inputs[field.name] = ids
        break
      }
      case 'checkbox':
        params[field.name] = value === true
        break
      case 'loras': {
        // Never left out, even empty: an edit that removes the last LoRA has to say so.
        const checked = loraRefs(rowsOf(value), field.weight, field.maxItems)
        if ('error' in checked) fail(field.name, checked.error)
        else params[field.name] = checked.refs
        break
      }
      case 'select': {
        const option = typeof value === 'string' && value !== '' ? field.options[Number(value)] : undefined
        if (option !== undefined) params[field.name] = option.value
        else empty(field)
        break
      }
      case 'number':
      case 'slider':
      case 'seed': {
        const text = typeof value === 'string' ? value.trim() : ''
        if (text === '') {
          empty(field)
          break
        }
        const checked = checkNumber(field, text)
        if (typeof checked === 'string') fail(field.name, checked)
        else params[field.name] = checked
        break
      }
      case 'text':
      case 'textarea':
      case 'pick': {
        const text = typeof value === 'string' ? value : ''
        if (text === '' && (field.required || field.nullable)) empty(field)
        else if (field.maxLength !== undefined && text.length > field.maxLength) fail(field.name, `has to be at most ${field.maxLength} characters`)
        else if (field.kind !== 'pick' && field.pattern !== undefined && !new RegExp(field.pattern).test(text)) fail(field.name, `has to match ${field.pattern}`)
        else params[field.name] = text
        break
      }
    }
  }
  return { request: { params, inputs }, errors }
}

/** A random seed within the field's bounds. */
export function randomSeed(field: NumberField, random: () => number = Math.random): number {
  const min = field.min ?? 0
  const max = field.max ?? SEED_MAX
  return min + Math.floor(random() * (max - min + 1))
}
