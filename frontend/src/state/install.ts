import { ApiError } from '../api/client'
import type { Api } from './controller'
import type { EnabledExtension, FetchedExtension } from '../api/types'

/**
 * Installing an extension from a URL, step by step: the user gives a URL, the server fetches it
 * into quarantine and shows it, and only a confirmation of the exact sha256 shown enables it.
 */
export type InstallState =
  | { step: 'idle'; url: string; error: string | null }
  | { step: 'fetching'; url: string }
  | { step: 'review'; url: string; fetched: FetchedExtension; error: string | null }
  | { step: 'enabling'; url: string; fetched: FetchedExtension }
  | { step: 'enabled'; url: string; enabled: EnabledExtension }

export type InstallAction =
  | { type: 'url'; url: string }
  | { type: 'fetch' }
  | { type: 'fetched'; fetched: FetchedExtension }
  | { type: 'enable' }
  | { type: 'enabled'; enabled: EnabledExtension }
  | { type: 'failed'; error: string }
  | { type: 'discard'; error?: string }

export const initialInstall: InstallState = { step: 'idle', url: '', error: null }

export function installReducer(state: InstallState, action: InstallAction): InstallState {
  switch (action.type) {
    case 'url':
      // A new URL drops whatever was fetched for the old one: its hash would not be this file's.
      return { step: 'idle', url: action.url, error: null }
    case 'fetch':
      return canFetch(state) ? { step: 'fetching', url: state.url.trim() } : state
    case 'fetched':
      return state.step === 'fetching' ? { step: 'review', url: state.url, fetched: action.fetched, error: null } : state
    case 'enable':
      return state.step === 'review' ? { step: 'enabling', url: state.url, fetched: state.fetched } : state
    case 'enabled':
      return state.step === 'enabling' ? { step: 'enabled', url: state.url, enabled: action.enabled } : state
    case 'failed':
      if (state.step === 'fetching') return { step: 'idle', url: state.url, error: action.error }
      if (state.step === 'enabling') return { step: 'review', url: state.url, fetched: state.fetched, error: action.error }
      return state
    case 'discard':
      return { step: 'idle', url: state.step === 'enabled' ? '' : state.url, error: action.error ?? null }
  }
}

/** Whether the URL can be fetched now: http(s), and nothing else under way. */
export function canFetch(state: InstallState): boolean {
  return (state.step === 'idle' || state.step === 'review') && /^https?:\/\/\S+$/i.test(state.url.trim())
}

export function confirmLabel(sha256: string): string {
  return `Enable (I trust sha256 ${sha256.slice(0, 12)}…)`
}

export function formatBytes(size: number): string {
  if (size < 1024) return `${size} bytes`
  return `${(size / 1024).toFixed(1)} KiB (${size} bytes)`
}

type Dispatch = (action: InstallAction) => void
type InstallApi = Pick<Api, 'fetchExtension' | 'enableExtension'>

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Fetches the URL into quarantine; the state moves to `review` (or back to `idle` with the error). */
export async function fetchStep(api: InstallApi, state: InstallState, dispatch: Dispatch): Promise<void> {
  if (!canFetch(state)) return
  dispatch({ type: 'fetch' })
  try {
    dispatch({ type: 'fetched', fetched: await api.fetchExtension(state.url.trim()) })
  } catch (error) {
    dispatch({ type: 'failed', error: message(error) })
  }
}

/** Enables the reviewed download by the sha256 the user saw and the one-time code the server
 * printed on its console (an HTTP call alone cannot enable code); returns what was enabled. */
export async function enableStep(
  api: InstallApi,
  state: InstallState,
  dispatch: Dispatch,
  code: string,
): Promise<EnabledExtension | undefined> {
  if (state.step !== 'review') return undefined
  dispatch({ type: 'enable' })
  try {
    const enabled = await api.enableExtension(state.fetched.sha256, code.trim())
    dispatch({ type: 'enabled', enabled })
    return enabled
  } catch (error) {
    dispatch({ type: 'failed', error: message(error) })
    return undefined
  }
}

/** Cancels the review and deletes the quarantined download on the server (already gone is fine). */
export async function discardStep(
  api: Pick<Api, 'discardExtension'>,
  state: InstallState,
  dispatch: Dispatch,
): Promise<void> {
  if (state.step !== 'review') {
    dispatch({ type: 'discard' })
    return
  }
  try {
    await api.discardExtension(state.fetched.sha256)
    dispatch({ type: 'discard' })
  } catch (error) {
    const gone = error instanceof ApiError && error.status === 404
    dispatch(gone ? { type: 'discard' } : { type: 'discard', error: `The download stays in quarantine: ${message(error)}` })
  }
}
