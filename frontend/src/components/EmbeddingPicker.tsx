import type { LocalEmbedding } from '../api/types'
import { loraMismatch, withTriggers, type ModelFamily } from '../forms/loras'

interface EmbeddingPickerProps {
  /** The prompt field's label ("Negative Prompt"). */
  label: string
  embeddings: LocalEmbedding[]
  /** The family of the op's model when known: an embedding made for another is not offered. */
  model: ModelFamily | null
  text: string
  onChange: (text: string) => void
}

/** The textual-inversion embeddings found here, under a prompt: picking one writes its name into
 * the prompt, as A1111 users type it (the server loads the file for that word). One made for
 * another family than the model's is listed, disabled, with the reason. */
export function EmbeddingPicker({ label, embeddings, model, text, onChange }: EmbeddingPickerProps) {
  if (embeddings.length === 0) return null
  return (
    <select
      className="embedding-picker"
      aria-label={`Add an embedding to ${label}`}
      value=""
      onChange={(e) => {
        if (e.target.value !== '') onChange(withTriggers(text, [e.target.value]))
      }}
    >
      <option value="">Add an embedding…</option>
      {embeddings.map((embedding) => {
        const mismatch = loraMismatch(embedding, model)
        return (
          <option key={embedding.model} value={embedding.name} disabled={mismatch !== null}>
            {embedding.name} · {mismatch ?? embedding.title}
          </option>
        )
      })}
    </select>
  )
}
