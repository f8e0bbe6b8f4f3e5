import { describe, expect, it, vi } from 'vitest'
import { ApiError } from '../api/client'
import type { EnabledExtension, FetchedExtension } from '../api/types'
import {
  canFetch,
  confirmLabel,
  discardStep,
  enableStep,
  fetchStep,
  formatBytes,
  initialInstall,
  installReducer,
  type InstallAction,
  type InstallState,
} from './install'

const SHA = 'ab'.repeat(32)
const fetched: FetchedExtension = {
  url: 'http://127.0.0.1:9/posterize.py',
  name: 'posterize.py',
  sha256: SHA,
  size: 120,
  preview: 'import opendream\n',
  preview_truncated: false,
}
const enabled: EnabledExtension = {
  extension: { name: 'posterize', source: '/x/posterize.py', ops: ['posterize'], error: null, missing: [], overrides: [], url: fetched.url, sha256: SHA },
  ops: [],
}

/** A reducer-backed dispatch, so the async steps can be checked end to end. */
function harness(start: InstallState) {
  let state = start
  const seen: InstallState['step'][] = []
  const dispatch = (action: InstallAction) => {
    state = installReducer(state, action)
    seen.push(state.step)
  }
  return { dispatch, get state() { return state }, seen }
}

describe('install from a URL', () => {
  it('fetches only http(s) URLs and never while busy', () => {
    expect(canFetch(initialInstall)).toBe(false)
    expect(canFetch({ ...initialInstall, url: 'ftp://x/y.py' })).toBe(false)
    expect(canFetch({ ...initialInstall, url: ' https://example.org/a.py ' })).toBe(true)
    expect(canFetch({ step: 'fetching', url: 'https://example.org/a.py' })).toBe(false)
    expect(installReducer({ step: 'fetching', url: 'http://a/b.py' }, { type: 'fetch' }).step).toBe('fetching')
  })

  it('goes fetch → review → enable → enabled, confirming the hash that was shown', async () => {
    const api = { fetchExtension: vi.fn(async () => fetched), enableExtension: vi.fn(async () => enabled) }
    const h = harness({ ...initialInstall, url: ` ${fetched.url} ` })
    await fetchStep(api, h.state, h.dispatch)
    expect(api.fetchExtension).toHaveBeenCalledWith(fetched.url)
    expect(h.state).toEqual({ step: 'review', url: fetched.url, fetched, error: null })
    expect(await enableStep(api, h.state, h.dispatch, ' 1234-5678 ')).toBe(enabled)
    expect(api.enableExtension).toHaveBeenCalledWith(SHA, '1234-5678')
    expect(h.seen).toEqual(['fetching', 'review', 'enabling', 'enabled'])
  })

  it('shows a refused fetch and keeps the URL to fix', async () => {
    const api = {
      fetchExtension: vi.fn(async () => Promise.reject(new ApiError(413, 'is 5000 bytes; an extension may be at most 1000'))),
      enableExtension: vi.fn(),
    }
    const h = harness({ ...initialInstall, url: 'http://a/big.py' })
    await fetchStep(api, h.state, h.dispatch)
    expect(h.state).toEqual({ step: 'idle', url: 'http://a/big.py', error: 'is 5000 bytes; an extension may be at most 1000' })
    expect(await enableStep(api, h.state, h.dispatch, '1234-5678')).toBeUndefined()
    expect(api.enableExtension).not.toHaveBeenCalled()
  })

  it('keeps the review open when enabling fails', async () => {
    const api = {
      fetchExtension: vi.fn(),
      enableExtension: vi.fn(async () => Promise.reject(new ApiError(409, 'changed since it was downloaded'))),
    }
    const h = harness({ step: 'review', url: fetched.url, fetched, error: null })
    expect(await enableStep(api, h.state, h.dispatch, '1234-5678')).toBeUndefined()
    expect(h.state).toEqual({ step: 'review', url: fetched.url, fetched, error: 'changed since it was downloaded' })
  })

  it('drops a fetched download when the URL changes or it is discarded', () => {
    const review: InstallState = { step: 'review', url: fetched.url, fetched, error: null }
    expect(installReducer(review, { type: 'url', url: 'http://other/x.py' })).toEqual({
      step: 'idle',
      url: 'http://other/x.py',
      error: null,
    })
    expect(installReducer(review, { type: 'discard' })).toEqual({ step: 'idle', url: fetched.url, error: null })
    expect(installReducer({ step: 'enabled', url: fetched.url, enabled }, { type: 'discard' }).url).toBe('')
    // Out-of-order answers are ignored.
    expect(installReducer(initialInstall, { type: 'fetched', fetched })).toBe(initialInstall)
    expect(installReducer(initialInstall, { type: 'enabled', enabled })).toBe(initialInstall)
  })

  it('labels the confirmation with the hash and sizes in bytes', () => {
    expect(confirmLabel(SHA)).toBe('Enable (I trust sha256 abababababab…)')
    expect(formatBytes(120)).toBe('120 bytes')
    expect(formatBytes(2048)).toBe('2.0 KiB (2048 bytes)')
  })

  it('cancelling a review deletes the quarantined download, and says so when that fails', async () => {
    const review: InstallState = { step: 'review', url: fetched.url, fetched, error: null }
    const api = { discardExtension: vi.fn(async () => undefined) }
    let h = harness(review)
    await discardStep(api, h.state, h.dispatch)
    expect(api.discardExtension).toHaveBeenCalledWith(SHA)
    expect(h.state).toEqual({ step: 'idle', url: fetched.url, error: null })

    const gone = { discardExtension: vi.fn(async () => Promise.reject(new ApiError(404, 'no download'))) }
    h = harness(review)
    await discardStep(gone, h.state, h.dispatch)
    expect(h.state).toEqual({ step: 'idle', url: fetched.url, error: null })

    const down = { discardExtension: vi.fn(async () => Promise.reject(new ApiError(500, 'disk full'))) }
    h = harness(review)
    await discardStep(down, h.state, h.dispatch)
    expect(h.state).toEqual({ step: 'idle', url: fetched.url, error: 'The download stays in quarantine: disk full' })
  })
})
