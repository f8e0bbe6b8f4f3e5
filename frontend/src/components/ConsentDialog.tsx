import { useState } from 'react'
import { useAppState, useController } from '../state/context'
import { Modal } from './Modal'

/** Asks before the layers of an imported file call a remote or paid service or download a model
 * (they wait, not queued, until the user says yes). */
export function ConsentDialog() {
  const controller = useController()
  const waiting = useAppState((s) => s.consent)
  const [busy, setBusy] = useState(false)
  if (waiting.length === 0) return null
  const run = async () => {
    setBusy(true)
    await controller.grantConsent(waiting.map((w) => w.layer))
    setBusy(false)
  }
  return (
    <Modal title="Run layers that call out?" onClose={() => controller.dismissConsent()}>
      <p>
        These layers came with a file. Running them calls a remote (perhaps paid) service or downloads a model, so they wait for
        your yes:
      </p>
      <ul className="doomed-list">
        {waiting.map((w) => (
          <li key={w.layer}>
            {w.name}{' '}
            <span className="hint">
              ({w.layer}, {w.op})
            </span>
            : {w.reason}
          </li>
        ))}
      </ul>
      <div className="form-actions">
        <button type="button" className="primary" disabled={busy} onClick={() => void run()}>
          Run them
        </button>
        <button type="button" onClick={() => controller.dismissConsent()}>
          Not now
        </button>
      </div>
    </Modal>
  )
}
