import { act, cleanup, fireEvent, screen, within } from '@testing-library/react'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { ConsentLayer } from '../api/types'
import type { Api } from '../state/controller'
import { polyfillDialog, renderWith, testController } from '../test/render'
import { storyProject } from '../test/fixtures'
import { ConsentDialog } from './ConsentDialog'

const waiting: ConsentLayer[] = [
  { layer: 'L2', name: 'sky', op: 'dalle', reason: 'calls OpenAI Images API (paid)' },
  { layer: 'L3', name: 'cat', op: 'mask_and_inpaint', reason: "downloads 'org/model' from the Hugging Face hub" },
]

function setup(api: Partial<Api>) {
  const controller = testController(api)
  controller.store.dispatch({ type: 'project', project: storyProject() })
  controller.store.dispatch({ type: 'consent', project: 'p1', layers: waiting })
  renderWith(controller, <ConsentDialog />)
  return controller
}

beforeAll(polyfillDialog)
afterEach(cleanup)

describe('ConsentDialog', () => {
  it('lists the waiting layers with what running them does, and runs them on "Run them"', async () => {
    const grantConsent = vi.fn(async () => ({ project: storyProject(), layers: ['L2', 'L3'], jobs: [], notes: {}, consent: [] }))
    setup({ grantConsent })
    const dialog = screen.getByRole('dialog', { name: 'Run layers that call out?' })
    const rows = within(dialog).getAllByRole('listitem').map((li) => li.textContent)
    expect(rows).toEqual([
      'sky (L2, dalle): calls OpenAI Images API (paid)',
      "cat (L3, mask_and_inpaint): downloads 'org/model' from the Hugging Face hub",
    ])
    await act(async () => {
      fireEvent.click(within(dialog).getByRole('button', { name: 'Run them' }))
    })
    expect(grantConsent).toHaveBeenCalledWith('p1', ['L2', 'L3'])
    expect(screen.queryByRole('dialog')).toBeNull()
  })

  it('"Not now" closes it and runs nothing', () => {
    const grantConsent = vi.fn()
    setup({ grantConsent })
    fireEvent.click(screen.getByRole('button', { name: 'Not now' }))
    expect(screen.queryByRole('dialog')).toBeNull()
    expect(grantConsent).not.toHaveBeenCalled()
  })
})
