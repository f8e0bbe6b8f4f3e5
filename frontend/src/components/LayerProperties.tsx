import { useState } from 'react'
import type { LayerPatch } from '../api/client'
import type { BlendMode, Layer, Placement } from '../api/types'
import { useController } from '../state/context'

const BLENDS: [BlendMode, string][] = [
  ['normal', 'Normal'],
  ['multiply', 'Multiply'],
  ['screen', 'Screen'],
  ['overlay', 'Overlay'],
  ['soft-light', 'Soft light'],
]

/** A number field that commits on Enter or when it loses the focus (one undo step), not per key. */
function NumberField({ label, value, suffix, onCommit }: { label: string; value: number; suffix?: string; onCommit: (value: number) => void }) {
  const [text, setText] = useState<string | null>(null)
  const commit = () => {
    if (text !== null && text.trim() !== '' && Number(text) !== value) onCommit(Number(text))
    setText(null)
  }
  return (
    <label className="prop-number">
      {label}
      <input
        type="number"
        value={text ?? String(value)}
        onChange={(e) => setText(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === 'Enter') commit()
          else if (e.key === 'Escape') setText(null)
        }}
      />
      {suffix}
    </label>
  )
}

/** The selected layer's placement, flips, blend mode and layer mask (Photoshop's options bar
 * and layer-panel header); each change is one undo step and re-runs nothing. */
export function LayerProperties({ layer, layers }: { layer: Layer; layers: Layer[] }) {
  const controller = useController()
  const patch = (change: LayerPatch) => void controller.patchLayer(layer.id, change)
  const place = (change: Partial<Placement>) => patch({ placement: change })
  const masks = layers.filter((l) => l.kind === 'mask')
  const { placement } = layer
  return (
    <section className="layer-props" aria-label={`Properties of ${layer.name}`}>
      {layer.kind === 'image' && (
        <div className="prop-row">
          <label>
            Blend mode
            <select value={layer.blend} onChange={(e) => patch({ blend: e.target.value as BlendMode })}>
              {BLENDS.map(([value, words]) => (
                <option key={value} value={value}>
                  {words}
                </option>
              ))}
            </select>
          </label>
          <label>
            Layer mask
            <select value={layer.mask ?? ''} onChange={(e) => patch({ mask: e.target.value === '' ? null : e.target.value })}>
              <option value="">None</option>
              {masks.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.name}
                </option>
              ))}
            </select>
          </label>
        </div>
      )}
      <div className="prop-row" key={`${placement.x}:${placement.y}:${placement.scale}`}>
        <NumberField label="X" value={placement.x} onCommit={(x) => place({ x: Math.round(x) })} />
        <NumberField label="Y" value={placement.y} onCommit={(y) => place({ y: Math.round(y) })} />
        <NumberField label="Scale" value={Math.round(placement.scale * 10000) / 100} suffix="%" onCommit={(s) => place({ scale: s / 100 })} />
      </div>
      <div className="prop-row">
        <button type="button" aria-pressed={placement.flip_x} onClick={() => place({ flip_x: !placement.flip_x })}>
          <span aria-hidden="true">⇋</span> Flip horizontal
        </button>
        <button type="button" aria-pressed={placement.flip_y} onClick={() => place({ flip_y: !placement.flip_y })}>
          <span aria-hidden="true">⇵</span> Flip vertical
        </button>
      </div>
    </section>
  )
}
