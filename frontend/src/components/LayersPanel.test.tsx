import { act, cleanup, render, screen } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { ControllerContext } from '../state/context'
import { AppController, type Api } from '../state/controller'
import { storyProject } from '../test/fixtures'
import { LayersPanel } from './LayersPanel'

function setup() {
  const events = () => ({ start: () => undefined, stop: () => undefined, cancel: () => false })
  const controller = new AppController({} as Api, events)
  const project = storyProject()
  project.layers[2] = { ...project.layers[2], status: 'running' }
  controller.store.dispatch({ type: 'project', project })
  render(
    <ControllerContext.Provider value={controller}>
      <LayersPanel onEdit={() => undefined} />
    </ControllerContext.Provider>,
  )
  const send = (event: Parameters<typeof controller.store.dispatch>[0]) => act(() => controller.store.dispatch(event))
  return { send, project: project.id }
}

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
})
