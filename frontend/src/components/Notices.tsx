import { useController, useAppState } from '../state/context'

export function Notices() {
  const controller = useController()
  const notices = useAppState((s) => s.notices)
  if (notices.length === 0) return null
  return (
    <div className="notices" aria-live="assertive">
      {notices.map((n) => (
        <div key={n.id} className={`notice notice-${n.kind}`} role={n.kind === 'error' ? 'alert' : 'status'}>
          <span>{n.text}</span>
          <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => controller.dismiss(n.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  )
}
