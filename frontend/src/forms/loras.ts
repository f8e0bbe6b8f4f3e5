import type { JsonSchema, LocalLora } from '../api/types'

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
