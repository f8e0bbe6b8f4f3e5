import type { Layer } from '../api/types'
import { Modal } from './Modal'

interface DeleteDialogProps {
  layer: Layer
  /** The layer and its descendants, as the server's dry run listed them. */
  doomed: Layer[]
  onCancel: () => void
  onConfirm: () => void
}

export function DeleteDialog({ layer, doomed, onCancel, onConfirm }: DeleteDialogProps) {
  const others = doomed.filter((l) => l.id !== layer.id)
  return (
    <Modal title={`Delete “${layer.name}”?`} onClose={onCancel}>
      {others.length === 0 ? (
        <p>No other layer is made from it.</p>
      ) : (
        <>
          <p>These layers are made from it and will be deleted too:</p>
          <ul className="doomed-list">
            {others.map((l) => (
              <li key={l.id}>
                {l.name} <span className="hint">({l.id}, {l.recipe.op})</span>
              </li>
            ))}
          </ul>
        </>
      )}
      <p className="hint">Undo brings them back.</p>
      <div className="form-actions">
        <button type="button" className="danger" onClick={onConfirm} autoFocus>
          Delete {doomed.length} layer{doomed.length === 1 ? '' : 's'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </Modal>
  )
}
