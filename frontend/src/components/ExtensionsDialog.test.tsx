import { cleanup, fireEvent, screen } from '@testing-library/react'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { ExtensionListing } from '../api/types'
import type { Api } from '../state/controller'
import { polyfillDialog, renderWith, testController } from '../test/render'
import { ExtensionsDialog } from './ExtensionsDialog'

/** A server with the original dalle.py (overriding `dream`) and sam.py (missing its package). */
function fakeServer() {
  let active = true
  const listing = (): ExtensionListing => ({
    url_install: { allowed: false, reason: 'off' },
    extensions: [
      {
        name: 'dalle', source: '/data/extensions/dalle.py', ops: ['dream'], error: null, missing: [],
        overrides: [{ op: 'dream', replaces: 'builtin', active }], url: null, sha256: null,
      },
      {
        name: 'sam', source: '/data/extensions/sam.py', ops: [], error: 'needs the Python package `segment-anything`',
        missing: ['segment-anything'], overrides: [], url: null, sha256: null,
      },
    ],
  })
  const useBuiltin = vi.fn(async (_op: string, on: boolean) => {
    active = !on
    return listing()
  })
  const api = {
    extensions: vi.fn(async () => listing()),
    useBuiltin,
    ops: vi.fn(async () => ({ ops: [], extensions: [] })),
  } as unknown as Api
  return { api, useBuiltin }
}

function setup() {
  const server = fakeServer()
  const controller = testController(server.api)
  renderWith(controller, <ExtensionsDialog onClose={() => undefined} />)
  return server
}

beforeAll(polyfillDialog)
afterEach(cleanup)

describe('ExtensionsDialog', () => {
  it('shows what an extension overrides and switches back to the built-in and again', async () => {
    const { useBuiltin } = setup()
    const override = await screen.findByText(/Overrides built-in/)
    expect(override.closest('[data-override]')?.getAttribute('data-override')).toBe('dream')
    fireEvent.click(screen.getByRole('button', { name: 'Use the built-in dream' }))
    expect(useBuiltin).toHaveBeenCalledWith('dream', true)
    expect(await screen.findByText(/switched off, the built-in runs/)).toBeTruthy()
    fireEvent.click(await screen.findByRole('button', { name: "Use dalle's dream" }))
    expect(useBuiltin).toHaveBeenLastCalledWith('dream', false)
    expect(await screen.findByRole('button', { name: 'Use the built-in dream' })).toBeTruthy()
  })

  it('names the packages an extension misses and the command that installs them', async () => {
    setup()
    const hint = await screen.findByText(/Needs segment-anything/)
    expect(hint.textContent).toBe('Needs segment-anything: run opendream extensions deps sam --install')
  })
})
