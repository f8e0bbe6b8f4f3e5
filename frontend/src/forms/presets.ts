import type { JsonSchema } from '../api/types'
import { fittingValue, type FormField, type FormValues } from './schemaForm'

/** An op's preset (`x-opendream-presets`) as this form can apply it. */
export interface FormPreset {
  title: string
  /** Only the fields this form has, each with a value it takes. */
  values: FormValues
  /** What choosing it sets, for people: "Fast: 4 steps, LCM: steps 4, guidance scale 1, scheduler lcm". */
  hint: string
}

/** The op's presets that set at least one field of this form; a value a field would not take is
 * skipped (the server checks presets against the op's parameters, but the form has its own limits). */
export function formPresets(schema: JsonSchema, fields: FormField[]): FormPreset[] {
  const declared = schema['x-opendream-presets'] ?? []
  const presets: FormPreset[] = []
  for (const { title, values: wanted } of declared) {
    const values: FormValues = {}
    const shown: string[] = []
    for (const field of fields) {
      if (!Object.hasOwn(wanted, field.name)) continue
      const value = fittingValue(field, wanted[field.name])
      if (value === undefined) continue
      values[field.name] = value
      const text = field.kind === 'select' ? field.options[Number(value)].label : String(value)
      shown.push(`${field.label.toLowerCase()} ${text}`)
    }
    // The select already shows the full title; the hint drops its "(which models)" aside.
    const short = title.replace(/\s*\([^)]*\)\s*$/, '')
    if (shown.length > 0) presets.push({ title, values, hint: `${short}: ${shown.join(', ')}` })
  }
  return presets
}

/** Whether the form still holds every value of `preset`: changing one of its fields leaves it. The
 * form never records which preset was used: a recipe keeps the values. */
export function presetHolds(preset: FormPreset, values: FormValues): boolean {
  return Object.entries(preset.values).every(([name, value]) => values[name] === value)
}
