import { act, cleanup, fireEvent, screen, within } from '@testing-library/react'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Api } from '../state/controller'
import { polyfillDialog, renderWith, testController } from '../test/render'
import { storyProject } from '../test/fixtures'
import { LayersPanel } from './LayersPanel'

function setup(api: Partial<Api> = {}) {
  const controller = testController(api)
  const project = storyProject()
  project.layers[2] = { ...project.layers[2], status: 'running' }
  controller.store.dispatch({ type: 'project', project })
  renderWith(controller, <LayersPanel onEdit={() => undefined} />)
  const send = (event: Parameters<typeof controller.store.dispatch>[0]) => act(() => controller.store.dispatch(event))
  return { send, project: project.id, controller }
}

beforeAll(polyfillDialog)
afterEach(cleanup)

describe('LayersPanel', () => {
  it('says what a running layer waits for, then shows its steps', () => {
    const { send, project } = setup()
    const base = { job: 'j1', project, layers: ['L3'] }
    send({ type: 'event', event: { type: 'job.status', ...base, text: 'loading model sd-1.5' } })
    expect(screen.getByText('loading model sd-1.5…')).toBeTruthy()
    send({ type: 'event', event: { type: 'job.download', ...base, done_bytes: 2 ** 20, total_bytes: 4 * 2 ** 20 } })
    expect(screen.queryByText('loading model sd-1.5…')).toBeNull()
    expect(screen.getByText('Downloading model… 1 / 4 MB')).toBeTruthy()
    send({ type: 'event', event: { type: 'job.progress', ...base, step: 1, total: 4 } })
    expect(screen.queryByText(/Downloading model/)).toBeNull()
    expect(screen.getByRole('progressbar', { name: 'Progress of cat' }).getAttribute('value')).toBe('1')
  })

  it('Delete or Backspace on the selected layer asks to delete it, except while typing', async () => {
    const deleteLayer = vi.fn(async () => ({ dry_run: true, deleted: ['L1', 'L3'], project: storyProject() }))
    const { controller } = setup({ deleteLayer } as Partial<Api>)
    fireEvent.keyDown(document.body, { key: 'Delete' })
    expect(deleteLayer).not.toHaveBeenCalled() // nothing selected
    act(() => controller.select('L1'))
    const field = document.body.appendChild(document.createElement('input'))
    fireEvent.keyDown(field, { key: 'Backspace' })
    expect(deleteLayer).not.toHaveBeenCalled()
    field.remove()
    fireEvent.keyDown(document.body, { key: 'Backspace' })
    const dialog = await screen.findByRole('dialog', { name: 'Delete “beach”?' })
    expect(deleteLayer).toHaveBeenCalledWith('p1', 'L1', true)
    expect(within(dialog).getByText(/cat/)).toBeTruthy() // made from it: deleted too
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }))
    fireEvent.keyDown(document.body, { key: 'Delete' })
    expect(await screen.findByRole('dialog', { name: 'Delete “beach”?' })).toBeTruthy()
  })
})
