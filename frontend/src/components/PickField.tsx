import { useEffect, useSyncExternalStore } from 'react'
import type { PickKind } from '../canvas/pickFormat'
import { usePicker } from '../canvas/picker'
import type { PickField as PickFieldSpec } from '../forms/schemaForm'

interface PickFieldProps {
  field: PickFieldSpec
  id: string
  value: string
  onChange: (value: string) => void
  aria: Record<string, unknown>
}

/** A text field for points or a box that can also be picked on the canvas. */
export function PickField({ field, id, value, onChange, aria }: PickFieldProps) {
  const picker = usePicker()
  const active = useSyncExternalStore(
    picker?.subscribe ?? noSubscribe,
    () => picker?.picking ?? false,
  )
  useEffect(() => picker?.register(field.pick, { value, onChange }), [picker, field.pick, value, onChange])
  // Picking ends with the form.
  useEffect(() => () => picker?.setActive(false), [picker])
  useEffect(() => {
    if (picker === null || !active) return
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') picker.setActive(false)
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [picker, active])
  return (
    <div className="pick-field">
      <div className="pick-row">
        <input id={id} type="text" maxLength={field.maxLength} value={value} onChange={(e) => onChange(e.target.value)} {...aria} />
        {picker !== null && (
          <button
            type="button"
            aria-pressed={active}
            aria-label={`Pick ${field.label} on the canvas`}
            title="Click the canvas to add points (Shift+click: not this), drag to draw a box"
            onClick={() => picker.setActive(!active)}
          >
            {active ? 'Done' : 'Pick on canvas'}
          </button>
        )}
      </div>
      {active && picker !== null && (field.pick === 'points' || !picker.kinds.includes('points')) && (
        <p className="hint pick-hint">{pickHint(picker.kinds)}</p>
      )}
    </div>
  )
}

function pickHint(kinds: PickKind[]): string {
  const ways = [
    kinds.includes('points') ? 'click the canvas to add a point (Shift+click: “not this”)' : '',
    kinds.includes('box') ? 'drag to draw the box' : '',
  ].filter(Boolean)
  const text = ways.join(', ')
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}. Esc stops.`
}

const noSubscribe = () => () => undefined
