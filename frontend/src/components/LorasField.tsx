import { useEffect, useRef, useState } from 'react'
import type { LocalLora } from '../api/types'
import { listedLora, loraLabel, loraMismatch, newLoraRow, type LoraRow, type ModelFamily } from '../forms/loras'
import type { LorasField as LorasFieldSpec } from '../forms/schemaForm'

interface LorasFieldProps {
  field: LorasFieldSpec
  id: string
  rows: LoraRow[]
  onChange: (rows: LoraRow[]) => void
  /** The LoRA files found here, offered by every row's model input. */
  loras: LocalLora[]
  /** The family of the op's model, when known: a listed LoRA made for another is flagged. */
  model: ModelFamily | null
  /** Appends trigger words to the op's prompt; absent when the op has none. */
  onTriggers?: (triggers: string[]) => void
  aria: Record<string, unknown>
}

/** A list of LoRAs: per row a file (typed, or picked from the files found here), a weight
 * (typed or slid) and a remove button; "Add LoRA" up to the op's limit. A listed file shows its
 * family (flagged when the model's differs) and offers its trigger words to the prompt. */
export function LorasField({ field, id, rows, onChange, loras, model, onTriggers, aria }: LorasFieldProps) {
  // The row just added takes the focus, so the keyboard goes on to its file; after a removal
  // (its button is gone) "Add LoRA" takes it.
  const [added, setAdded] = useState<number | null>(null)
  const [removed, setRemoved] = useState(false)
  const addButton = useRef<HTMLButtonElement>(null)
  useEffect(() => {
    if (!removed) return
    addButton.current?.focus()
    setRemoved(false)
  }, [removed])
  const { weight } = field
  const full = field.maxItems !== undefined && rows.length >= field.maxItems
  const listId = `${id}-files`
  const update = (index: number, patch: Partial<LoraRow>) => onChange(rows.map((r, i) => (i === index ? { ...r, ...patch } : r)))
  const remove = (index: number) => {
    setAdded(null)
    setRemoved(true)
    onChange(rows.filter((_, i) => i !== index))
  }
  return (
    <div id={id} className="loras" role="group" aria-label={field.label}>
      {rows.length === 0 && <p className="hint">None.</p>}
      {rows.map((row, i) => {
        const name = `LoRA ${i + 1}`
        const number = Number(row.weight)
        const lora = listedLora(loras, row.model)
        const mismatch = loraMismatch(lora, model)
        const triggers = onTriggers !== undefined && lora !== undefined && lora.triggers.length > 0 ? lora.triggers : []
        return (
          <div key={i} className="lora-row">
            <div className="lora-file">
              <input
                type="text"
                aria-label={`${name} model`}
                placeholder=".safetensors file or repo id"
                list={listId}
                value={row.model}
                autoFocus={i === added}
                onChange={(e) => update(i, { model: e.target.value })}
                {...aria}
              />
              <button type="button" aria-label={`Remove ${name}`} onClick={() => remove(i)}>
                Remove
              </button>
            </div>
            {(lora?.family != null || triggers.length > 0) && (
              <div className="lora-about">
                {lora?.family != null && <span className="hint">{lora.title}</span>}
                {mismatch !== null && (
                  <span className="lora-warning" role="status">
                    {mismatch}
                  </span>
                )}
                {triggers.length > 0 && (
                  <button
                    type="button"
                    aria-label={`Add ${name} trigger words`}
                    title={`Append to the prompt: ${triggers.join(', ')}`}
                    onClick={() => onTriggers?.(triggers)}
                  >
                    Add trigger words
                  </button>
                )}
              </div>
            )}
            <div className="number-row">
              <input
                type="range"
                aria-label={`${name} weight slider`}
                min={weight.min}
                max={weight.max}
                step={weight.step}
                value={row.weight.trim() !== '' && Number.isFinite(number) ? number : weight.default}
                onChange={(e) => update(i, { weight: e.target.value })}
              />
              <input
                type="number"
                className="number-small"
                aria-label={`${name} weight`}
                min={weight.min}
                max={weight.max}
                step={weight.step}
                value={row.weight}
                onChange={(e) => update(i, { weight: e.target.value })}
                {...aria}
              />
            </div>
          </div>
        )
      })}
      <div>
        <button
          ref={addButton}
          type="button"
          disabled={full}
          title={full ? `At most ${field.maxItems} LoRAs` : undefined}
          onClick={() => {
            setAdded(rows.length)
            onChange([...rows, newLoraRow(weight)])
          }}
        >
          Add LoRA
        </button>
      </div>
      <datalist id={listId}>
        {loras.map((l) => (
          <option key={l.model} value={l.model} label={loraLabel(l)} />
        ))}
      </datalist>
    </div>
  )
}
