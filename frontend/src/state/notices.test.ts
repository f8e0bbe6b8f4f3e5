import { describe, expect, it } from 'vitest'
import type { LayerStatus } from '../api/types'
import { job, storyProject } from '../test/fixtures'
import { appReducer, initialState, type AppState } from './app'
import { MAX_NOTICES } from './notices'

function withProject(): AppState {
  return appReducer(initialState, { type: 'project', project: storyProject() })
}

function failure(state: AppState, id: number, layer = 'L3', jobId = 'j1'): AppState {
  return appReducer(state, { type: 'notice', notice: { id, kind: 'error', text: 'dream failed: boom', layer, job: jobId } })
}

function layerStatus(state: AppState, revision: number, status: LayerStatus, id = 'L3'): AppState {
  return appReducer(state, {
    type: 'event',
    event: { type: 'layer.changed', project: 'p1', revision, layers: [{ id, status, blob: null, error: null }] },
  })
}

describe('failure notices', () => {
  it('go when their layer runs again after failing', () => {
    let state = layerStatus(failure(withProject(), 1), 2, 'failed')
    expect(state.notices).toHaveLength(1)
    state = layerStatus(state, 3, 'running')
    expect(state.notices).toEqual([])
  })

  it('stay when the failure notice comes before the layer is marked failed', () => {
    // The job.failed event can overtake the layer.changed that marks the layer failed.
    let state = layerStatus(withProject(), 2, 'running')
    state = layerStatus(failure(state, 1), 3, 'failed')
    expect(state.notices).toHaveLength(1)
  })

  it('go when a new job for their layer is queued, or the layer is deleted', () => {
    let state = failure(failure(withProject(), 1), 2, 'L1', 'j9')
    state = appReducer(state, { type: 'event', event: { type: 'job.queued', job: job('j1', { layer_id: 'L3' }) } })
    expect(state.notices).toHaveLength(2)
    state = appReducer(state, { type: 'event', event: { type: 'job.queued', job: job('j2', { layer_id: 'L3' }) } })
    expect(state.notices.map((n) => n.layer)).toEqual(['L1'])
    state = appReducer(state, { type: 'event', event: { type: 'layer.changed', project: 'p1', revision: 2, deleted: ['L1'] } })
    expect(state.notices).toEqual([])
  })

  it('leave other notices alone and are capped, the newest kept', () => {
    let state = withProject()
    for (let id = 1; id <= MAX_NOTICES + 2; id++) {
      state = appReducer(state, { type: 'notice', notice: { id, kind: 'info', text: `n${id}` } })
    }
    expect(state.notices.map((n) => n.id)).toEqual([3, 4, 5])
    expect(layerStatus(state, 2, 'running').notices).toHaveLength(MAX_NOTICES)
  })
})

describe('cancelling', () => {
  it('is marked at once and cleared by the job cancelled event', () => {
    let state = appReducer(withProject(), { type: 'event', event: { type: 'job.started', job: job('j1', { layer_id: 'L3', state: 'running' }) } })
    state = appReducer(state, { type: 'cancelling', job: 'j1', on: true })
    expect(state.cancelling).toEqual({ j1: true })
    state = appReducer(state, { type: 'event', event: { type: 'cancel.accepted', job: job('j1', { layer_id: 'L3', state: 'running' }) } })
    expect(state.cancelling).toEqual({ j1: true })
    state = appReducer(state, { type: 'event', event: { type: 'job.cancelled', job: job('j1', { layer_id: 'L3', state: 'cancelled' }) } })
    expect(state.cancelling).toEqual({})
  })

  it('is cleared by a jobs snapshot where the job has finished', () => {
    let state = appReducer(withProject(), { type: 'cancelling', job: 'j1', on: true })
    state = appReducer(state, { type: 'jobs', jobs: [job('j1', { state: 'completed' })] })
    expect(state.cancelling).toEqual({})
  })
})
