import { useCallback, useEffect, useReducer, useState } from 'react'
import type { ExtensionListing, ExtensionOverride, InstalledExtension } from '../api/types'
import { useAppState, useController } from '../state/context'
import {
  canFetch,
  confirmLabel,
  discardStep,
  enableStep,
  fetchStep,
  formatBytes,
  initialInstall,
  installReducer,
} from '../state/install'
import { Modal } from './Modal'

/** Install from a URL: fetch into quarantine, read the source and its sha256, then confirm it. */
function InstallFromUrl({ onEnabled }: { onEnabled: () => Promise<void> }) {
  const controller = useController()
  const [state, dispatch] = useReducer(installReducer, initialInstall)
  const [code, setCode] = useState('')
  const busy = state.step === 'fetching' || state.step === 'enabling'
  const fetched = state.step === 'review' || state.step === 'enabling' ? state.fetched : null
  const error = state.step === 'idle' || state.step === 'review' ? state.error : null

  const enable = async () => {
    if ((await enableStep(controller.api, state, dispatch, code)) !== undefined) await onEnabled()
  }

  return (
    <section className="install-url" aria-label="Install from a URL">
      <h3>Install from a URL</h3>
      <form
        className="install-url-form"
        onSubmit={(e) => {
          e.preventDefault()
          void fetchStep(controller.api, state, dispatch)
        }}
      >
        <label>
          Extension URL
          <input
            type="url"
            placeholder="https://example.org/my_extension.py"
            value={state.url}
            disabled={busy}
            onChange={(e) => dispatch({ type: 'url', url: e.target.value })}
          />
        </label>
        <button type="submit" disabled={!canFetch(state)}>
          {state.step === 'fetching' ? 'Fetching…' : 'Fetch'}
        </button>
      </form>
      {error !== null && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      {fetched !== null && (
        <div className="install-review">
          <p className="hint">Downloaded into quarantine; nothing has run. Read it before you enable it.</p>
          <dl className="install-facts">
            <dt>Source</dt>
            <dd>{fetched.url}</dd>
            <dt>File</dt>
            <dd>
              {fetched.name}, {formatBytes(fetched.size)}
            </dd>
            <dt>sha256</dt>
            <dd>
              <code data-sha256={fetched.sha256}>{fetched.sha256}</code>
            </dd>
          </dl>
          <pre className="install-source" aria-label="Source code" tabIndex={0}>
            {fetched.preview}
          </pre>
          {fetched.preview_truncated && <p className="hint">The source is longer than shown.</p>}
          <label>
            Confirmation code (printed in the terminal where Opendream runs)
            <input
              inputMode="numeric"
              autoComplete="off"
              placeholder="1234-5678"
              value={code}
              disabled={busy}
              onChange={(e) => setCode(e.target.value)}
            />
          </label>
          <div className="extension-actions">
            <button type="button" className="primary" disabled={busy || !code.trim()} onClick={() => void enable()}>
              {state.step === 'enabling' ? 'Enabling…' : confirmLabel(fetched.sha256)}
            </button>
            <button type="button" disabled={busy} onClick={() => void discardStep(controller.api, state, dispatch)}>
              Cancel
            </button>
          </div>
        </div>
      )}
      {state.step === 'enabled' && (
        <p role="status">
          Enabled {state.enabled.extension.name}
          {state.enabled.extension.error !== null
            ? `, but it failed to load: ${state.enabled.extension.error}`
            : `: ${state.enabled.ops.map((op) => op.title).join(', ') || 'no ops'}.`}
        </p>
      )}
    </section>
  )
}

/** An op the extension overrides, and the switch back to the built-in (or to the override again). */
function Override({ extension, override, onSwitch }: {
  extension: string
  override: ExtensionOverride
  onSwitch: (op: string, useBuiltin: boolean) => Promise<void>
}) {
  const replaced = override.replaces === 'builtin' ? 'built-in' : override.replaces
  return (
    <p className="extension-override" data-override={override.op}>
      Overrides {replaced} <code>{override.op}</code>
      {override.active ? '. ' : ': switched off, the built-in runs. '}
      <button type="button" onClick={() => void onSwitch(override.op, override.active)}>
        {override.active ? `Use the built-in ${override.op}` : `Use ${extension}'s ${override.op}`}
      </button>
    </p>
  )
}

function Missing({ extension }: { extension: InstalledExtension }) {
  const missing = extension.missing ?? []
  if (missing.length === 0) return null
  return (
    <p className="hint" data-missing={missing.join(' ')}>
      Needs {missing.join(', ')}: run <code>opendream extensions deps {extension.name} --install</code>
    </p>
  )
}

/** The installed ops grouped by the extension they come from, with load errors, the built-in ops
 * they override (with a switch back), and the install-from-URL flow when the server allows it. */
export function ExtensionsDialog({ onClose }: { onClose: () => void }) {
  const controller = useController()
  const catalog = useAppState((s) => s.catalog)
  const [listing, setListing] = useState<ExtensionListing | null>(null)
  const titles = new Map((catalog?.ops ?? []).map((op) => [op.name, op.title]))

  const refresh = useCallback(async () => {
    const next = await controller.guard(() => controller.api.extensions())
    if (next !== undefined) setListing(next)
  }, [controller])
  useEffect(() => {
    void refresh()
  }, [refresh, catalog])

  // A new catalog re-reads the listing (the effect above), so both end by refreshing the catalog.
  const onEnabled = () => controller.refreshCatalog()
  const switchOverride = async (op: string, useBuiltin: boolean) => {
    const next = await controller.guard(() => controller.api.useBuiltin(op, useBuiltin))
    if (next !== undefined) setListing(next)
    await controller.refreshCatalog()
  }
  const reload = async () => {
    await controller.guard(() => controller.api.reloadExtensions())
    await controller.refreshCatalog()
  }

  const extensions = [...(listing?.extensions ?? [])].sort((a, b) => a.name.localeCompare(b.name))
  return (
    <Modal title="Extensions" onClose={onClose} wide>
      {listing !== null && extensions.length === 0 && <p className="hint">No extension is installed.</p>}
      <ul className="extension-list">
        {extensions.map((x) => (
          <li key={x.source} className="extension" data-extension={x.name}>
            <div className="layer-head">
              <strong>{x.name}</strong>
              <span className="hint">{x.url ?? x.source}</span>
            </div>
            {x.sha256 !== null && <p className="hint">pinned sha256 {x.sha256}</p>}
            {x.error !== null ? (
              <p className="field-error">Failed to load: {x.error}</p>
            ) : (
              <p>{x.ops.map((name) => titles.get(name) ?? name).join(', ') || 'No ops.'}</p>
            )}
            {(x.overrides ?? []).map((o) => (
              <Override key={o.op} extension={x.name} override={o} onSwitch={switchOverride} />
            ))}
            <Missing extension={x} />
          </li>
        ))}
      </ul>
      <div className="extension-actions">
        <button type="button" onClick={() => void reload()}>
          Reload extensions
        </button>
      </div>
      {listing !== null &&
        (listing.url_install.allowed ? (
          <InstallFromUrl onEnabled={onEnabled} />
        ) : (
          <p className="hint" data-testid="url-install-disabled">
            Installing from a URL is off on this server: {listing.url_install.reason}
          </p>
        ))}
    </Modal>
  )
}
