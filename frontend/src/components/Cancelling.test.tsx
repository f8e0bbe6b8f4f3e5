import { act, cleanup, fireEvent, screen, within } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { renderWith, testController } from '../test/render'
import { job, storyProject } from '../test/fixtures'
import { JobsPanel } from './JobsPanel'
import { LayersPanel } from './LayersPanel'

afterEach(cleanup)

describe('cancelling a job', () => {
  it('says "cancelling…" on the layer and in the jobs panel at once, until the job is cancelled', async () => {
    const cancel = vi.fn(() => true)
    const controller = testController({}, () => ({ start: () => undefined, stop: () => undefined, cancel }))
    const project = storyProject()
    project.layers[2] = { ...project.layers[2], status: 'running' }
    controller.store.dispatch({ type: 'project', project })
    const running = job('j1', { layer_id: 'L3', state: 'running' })
    controller.store.dispatch({ type: 'event', event: { type: 'job.started', job: running } })
    renderWith(
      controller,
      <>
        <LayersPanel onEdit={() => undefined} />
        <JobsPanel />
      </>,
    )
    const row = document.querySelector('[data-layer="L3"]') as HTMLElement
    const jobRow = document.querySelector('[data-job="j1"]') as HTMLElement
    expect(within(row).queryByText('cancelling…')).toBeNull()
    await act(async () => fireEvent.click(within(jobRow).getByRole('button', { name: 'Cancel' })))
    expect(cancel).toHaveBeenCalledWith('j1')
    expect(within(row).getByText('cancelling…')).toBeTruthy()
    expect(within(jobRow).getByText('cancelling…')).toBeTruthy()
    expect(within(jobRow).getByRole('button', { name: 'Cancel' })).toHaveProperty('disabled', true)
    act(() => controller.store.dispatch({ type: 'event', event: { type: 'job.cancelled', job: { ...running, state: 'cancelled' } } }))
    expect(screen.queryByText('cancelling…')).toBeNull()
  })
})
