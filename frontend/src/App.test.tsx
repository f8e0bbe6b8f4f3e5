import { act, cleanup, screen } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import type { Health } from './api/types'
import { Shell } from './App'
import { renderWith, testController } from './test/render'

const HEALTH: Health = { status: 'ok', version: '0', device: 'cpu', dtype: 'float32', tiny_models: true, workers: 1, queued: 0 }

afterEach(cleanup)

/** A controller whose health request answers when the test says. */
function heldHealth() {
  let answer: (health: Promise<Health>) => void = () => undefined
  const controller = testController({
    health: () => new Promise<Health>((resolve, reject) => (answer = (h) => void h.then(resolve, reject))),
    ops: async () => ({ ops: [], extensions: [] }),
    listProjects: async () => [],
  })
  return { controller, answer: (health: Promise<Health>) => answer(health) }
}

describe('the page', () => {
  it('shows its content once the health has answered, so the tiny-models banner does not move it', async () => {
    const { controller, answer } = heldHealth()
    renderWith(controller, <Shell />)
    const started = controller.start()
    await act(async () => undefined)
    expect(screen.queryByRole('heading', { name: 'New project' })).toBeNull()
    await act(async () => {
      answer(Promise.resolve(HEALTH))
      await started
    })
    expect(screen.getByText(/Tiny test models are active/)).toBeTruthy()
    expect(screen.getByRole('heading', { name: 'New project' })).toBeTruthy()
  })

  it('shows its content, and why, when the health cannot be read', async () => {
    const { controller, answer } = heldHealth()
    renderWith(controller, <Shell />)
    await act(async () => {
      const started = controller.start()
      answer(Promise.reject(new Error('the server is gone')))
      await started
    })
    expect(screen.getByRole('heading', { name: 'New project' })).toBeTruthy()
    expect(screen.getByText('the server is gone')).toBeTruthy()
    expect(screen.queryByText(/Tiny test models/)).toBeNull()
  })
})
