import { useAppState } from '../state/context'
import { Modal } from './Modal'

/** The installed ops grouped by the extension they come from, with load errors. */
export function ExtensionsDialog({ onClose }: { onClose: () => void }) {
  const catalog = useAppState((s) => s.catalog)
  const titles = new Map((catalog?.ops ?? []).map((op) => [op.name, op.title]))
  const extensions = [...(catalog?.extensions ?? [])].sort((a, b) => a.name.localeCompare(b.name))
  return (
    <Modal title="Extensions" onClose={onClose} wide>
      {extensions.length === 0 && <p className="hint">No extension is installed.</p>}
      <ul className="extension-list">
        {extensions.map((x) => (
          <li key={x.name} className="extension">
            <div className="layer-head">
              <strong>{x.name}</strong>
              <span className="hint">{x.source}</span>
            </div>
            {x.error !== null ? (
              <p className="field-error">Failed to load: {x.error}</p>
            ) : (
              <p>{x.ops.map((name) => titles.get(name) ?? name).join(', ') || 'No ops.'}</p>
            )}
          </li>
        ))}
      </ul>
    </Modal>
  )
}
