import type { JsonSchema, LocalLora, LocalModel } from '../api/types'

/** One row of a LoRAs field as the form holds it: the weight as typed, so "0." can be typed. */
export interface LoraRow {
  model: string
  weight: string
}

/** One LoRA as a recipe holds it (`opendream.fields.LoraRef`). */
export interface LoraRef {
  model: string
  weight: number
}

/** The weight's bounds and default, read from the item schema (`LoraRef.weight`). */
export interface LoraWeight {
  min: number
  max: number
  default: number
  step: number
}

/** A twentieth: fine enough for LoRA strengths, coarse enough to drag to 0.8 on a slider. */
const WEIGHT_STEP = 0.05

/** The weight spec of a `loras` parameter's items (their `$ref` already resolved). */
export function loraWeight(item: JsonSchema): LoraWeight {
  const weight = item.properties?.weight ?? {}
  return {
    min: weight.minimum ?? -4,
    max: weight.maximum ?? 4,
    default: typeof weight.default === 'number' ? weight.default : 1,
    step: weight.multipleOf ?? WEIGHT_STEP,
  }
}

/** A recipe's list of LoRAs as rows; anything that is not a `{model, weight}` is left out. */
export function loraRows(value: unknown, weight: LoraWeight): LoraRow[] {
  if (!Array.isArray(value)) return []
  return value
    .filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null && typeof v.model === 'string')
    .map((v) => ({ model: v.model as string, weight: String(typeof v.weight === 'number' ? v.weight : weight.default) }))
}

/** A new, empty row at the default weight. */
export function newLoraRow(weight: LoraWeight): LoraRow {
  return { model: '', weight: String(weight.default) }
}

/** The rows as the request's list, or the first problem, naming the row ("LoRA 2: choose a file"). */
export function loraRefs(rows: LoraRow[], weight: LoraWeight, maxItems?: number): { refs: LoraRef[] } | { error: string } {
  if (maxItems !== undefined && rows.length > maxItems) return { error: `has to have at most ${maxItems} LoRAs` }
  const refs: LoraRef[] = []
  for (const [i, row] of rows.entries()) {
    const name = `LoRA ${i + 1}`
    const model = row.model.trim()
    if (model === '') return { error: `${name}: choose a file` }
    const text = row.weight.trim()
    const value = Number(text)
    if (text === '' || !Number.isFinite(value)) return { error: `${name} weight: has to be a number` }
    if (value < weight.min || value > weight.max) return { error: `${name} weight: has to be between ${weight.min} and ${weight.max}` }
    refs.push({ model, weight: value })
  }
  return { refs }
}

/** A server error inside the list (`rest` of `loras.1.weight` is `["1", "weight"]`) worded for
 * the form: "LoRA 2 weight: has to be at most 4". */
export function loraErrorMessage(rest: string[], message: string): string {
  const [index, part] = rest
  if (index === undefined || !/^\d+$/.test(index)) return message
  return `LoRA ${Number(index) + 1}${part === undefined ? '' : ` ${part}`}: ${message}`
}

/** A LoRA file's suggestion label: its family and trigger words ("SDXL · triggers: pixel art"). */
export function loraLabel(lora: LocalLora): string {
  const parts = [lora.title]
  if (lora.triggers.length > 0) parts.push(`triggers: ${lora.triggers.join(', ')}`)
  return parts.join(' · ')
}

/** A listed model's family, titled for people. */
export interface ModelFamily {
  family: string
  title: string
}

/** The family of `model` when it is listed here and its family known; null otherwise (an empty
 * field is the server's default model, unknown here). Its title drops the variant: an
 * "SDXL (inpaint)" model is SDXL. */
export function modelFamily(models: LocalModel[], model: unknown): ModelFamily | null {
  const found = typeof model === 'string' ? models.find((m) => m.model === model.trim()) : undefined
  if (found === undefined || found.family === null) return null
  const variant = found.variant !== null && found.variant !== 'normal'
  return { family: found.family, title: variant ? found.title.replace(/ \([^)]*\)$/, '') : found.title }
}

/** The listed LoRA file a row names, if any. */
export function listedLora(loras: LocalLora[], model: string): LocalLora | undefined {
  return loras.find((l) => l.model === model.trim())
}

/** Why a LoRA (or an embedding) does not fit the model ("made for SDXL; the model is Stable
 * Diffusion 1.x"), as the server would refuse it at run time; null when it fits or either family
 * is unknown here. */
export function loraMismatch(lora: { family: string | null; title: string } | undefined, model: ModelFamily | null): string | null {
  if (lora === undefined || lora.family === null || model === null || lora.family === model.family) return null
  return `made for ${lora.title}; the model is ${model.title}`
}

/** The first row whose LoRA does not fit the model, naming it ("LoRA 2: made for SDXL; …"). */
export function lorasMismatch(rows: LoraRow[], loras: LocalLora[], model: ModelFamily | null): string | null {
  for (const [i, row] of rows.entries()) {
    const why = loraMismatch(listedLora(loras, row.model), model)
    if (why !== null) return `LoRA ${i + 1}: ${why}`
  }
  return null
}

/** Whether `prompt` has `words` whole, in any case ("pixel art" is in "Pixel Art, a cat", not in "pixel artist"). */
function hasWords(prompt: string, words: string): boolean {
  const escaped = words.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`(^|[^\\p{L}\\p{N}_])${escaped}($|[^\\p{L}\\p{N}_])`, 'iu').test(prompt)
}

/** The prompt with the trigger words it lacks appended, comma-separated: "a cat" and
 * ["pixel art", "cat"] make "a cat, pixel art". */
export function withTriggers(prompt: string, triggers: string[]): string {
  const missing = triggers.map((t) => t.trim()).filter((t) => t !== '' && !hasWords(prompt, t))
  if (missing.length === 0) return prompt
  const base = prompt.trimEnd().replace(/,$/, '')
  return base === '' ? missing.join(', ') : `${base}, ${missing.join(', ')}`
}
