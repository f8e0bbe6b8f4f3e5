import { useState } from 'react'
import type { FormValues } from '../forms/schemaForm'
import { presetHolds, type FormPreset } from '../forms/presets'

interface PresetSelectProps {
  presets: FormPreset[]
  values: FormValues
  /** Sets the preset's values in the form. */
  onApply: (values: FormValues) => void
}

/** "Preset" above an op's fields: picking one sets its values and says which; once one of them is
 * changed the select shows "Custom" again. Nothing about presets reaches the server. */
export function PresetSelect({ presets, values, onApply }: PresetSelectProps) {
  const [chosen, setChosen] = useState<number | null>(null)
  if (presets.length === 0) return null
  const preset = chosen === null ? undefined : presets[chosen]
  const shown = preset !== undefined && presetHolds(preset, values) ? preset : undefined
  const choose = (value: string) => {
    const index = value === '' ? null : Number(value)
    setChosen(index)
    if (index !== null) onApply(presets[index].values)
  }
  return (
    <div className="field field-select">
      <label className="field-label" htmlFor="op-form-preset">
        Preset
      </label>
      <select id="op-form-preset" value={shown === undefined ? '' : String(chosen)} onChange={(e) => choose(e.target.value)}>
        <option value="">Custom</option>
        {presets.map((p, i) => (
          <option key={p.title} value={String(i)}>
            {p.title}
          </option>
        ))}
      </select>
      {shown !== undefined && (
        <p className="hint" role="status">
          {shown.hint}
        </p>
      )}
    </div>
  )
}
