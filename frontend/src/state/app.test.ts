import { describe, expect, it } from 'vitest'
import { job, layer, project, storyProject } from '../test/fixtures'
import { appReducer, initialState, jobList, needsReload, type AppState } from './app'
import { descendants } from './dag'

function withProject(p = storyProject()): AppState {
  return appReducer(initialState, { type: 'project', project: p })
}

describe('loading a project', () => {
  it('ignores an older revision of the open project', () => {
    const state = withProject(storyProject())
    const newer = appReducer(state, { type: 'project', project: { ...storyProject(), revision: 5, name: 'new' } })
    expect(newer.project?.name).toBe('new')
    expect(appReducer(newer, { type: 'project', project: { ...storyProject(), revision: 4 } })).toBe(newer)
  })

  it('keeps the selection while the layer exists and drops it otherwise', () => {
    let state = appReducer(withProject(), { type: 'select', layer: 'L3' })
    expect(state.selectedLayer).toBe('L3')
    state = appReducer(state, { type: 'project', project: { ...storyProject(), revision: 2, layers: storyProject().layers.slice(0, 2) } })
    expect(state.selectedLayer).toBeNull()
  })

  it('refuses to select a layer that does not exist', () => {
    const state = withProject()
    expect(appReducer(state, { type: 'select', layer: 'nope' })).toBe(state)
  })

  it('starts afresh on another project', () => {
    let state = appReducer(withProject(), { type: 'select', layer: 'L1' })
    state = appReducer(state, { type: 'event', event: { type: 'job.queued', job: job('j1') } })
    state = appReducer(state, { type: 'project', project: project([], { id: 'p2' }) })
    expect(state.selectedLayer).toBeNull()
    expect(state.jobs).toEqual({})
  })
})

describe('server events', () => {
  it('tracks jobs of the open project only', () => {
    let state = withProject()
    state = appReducer(state, { type: 'event', event: { type: 'job.queued', job: job('j1') } })
    state = appReducer(state, { type: 'event', event: { type: 'job.queued', job: job('j2', { project_id: 'other' }) } })
    expect(Object.keys(state.jobs)).toEqual(['j1'])
  })

  it('keeps a finished job finished when a late "queued" copy arrives', () => {
    // The reply of the request that queued a fast job can arrive after its job.completed event.
    let state = withProject()
    state = appReducer(state, { type: 'event', event: { type: 'job.started', job: job('j1', { state: 'running' }) } })
    state = appReducer(state, { type: 'event', event: { type: 'job.completed', job: job('j1', { state: 'completed' }) } })
    const done = state
    expect(appReducer(done, { type: 'event', event: { type: 'job.queued', job: job('j1') } })).toBe(done)
    expect(appReducer(done, { type: 'event', event: { type: 'job.started', job: job('j1', { state: 'running' }) } })).toBe(done)
    state = appReducer(state, { type: 'event', event: { type: 'job.queued', job: job('j2') } })
    state = appReducer(state, { type: 'event', event: { type: 'job.started', job: job('j2', { state: 'running' }) } })
    expect(state.jobs.j2.state).toBe('running')
  })

  it('keeps what events said when an older job list arrives', () => {
    let state = withProject()
    state = appReducer(state, { type: 'event', event: { type: 'job.completed', job: job('j1', { state: 'completed' }) } })
    state = appReducer(state, { type: 'jobs', jobs: [job('j1', { state: 'running' }), job('j2')] })
    expect(state.jobs.j1.state).toBe('completed')
    expect(state.jobs.j2.state).toBe('queued')
  })

  it('shows progress while a job runs and clears it when the job ends', () => {
    const running = storyProject()
    running.layers[2] = { ...running.layers[2], status: 'running' }
    let state = withProject(running)
    state = appReducer(state, {
      type: 'event',
      event: { type: 'job.progress', job: 'j1', project: 'p1', layers: ['L3'], step: 3, total: 20, preview: 'AAAA' },
    })
    expect(state.progress.L3).toEqual({ job: 'j1', step: 3, total: 20, preview: 'AAAA' })
    state = appReducer(state, { type: 'event', event: { type: 'job.completed', job: job('j1', { state: 'completed' }) } })
    expect(state.progress).toEqual({})
  })

  it('applies layer status, blob and error from layer.changed', () => {
    let state = withProject()
    state = appReducer(state, {
      type: 'event',
      event: { type: 'layer.changed', project: 'p1', revision: 2, layers: [{ id: 'L3', status: 'failed', blob: null, error: 'boom' }] },
    })
    const l3 = state.project!.layers[2]
    expect(l3.status).toBe('failed')
    expect(l3.run.error).toBe('boom')
  })

  it('tracks a model download on the layers of its job until denoising starts', () => {
    let state = withProject()
    state = appReducer(state, {
      type: 'event',
      event: { type: 'job.download', job: 'j1', project: 'p1', layers: ['L3'], done_bytes: 10, total_bytes: 40 },
    })
    expect(state.progress.L3).toEqual({ job: 'j1', step: 0, total: 0, preview: null, download: { done: 10, total: 40 } })
    state = appReducer(state, {
      type: 'event',
      event: { type: 'job.progress', job: 'j1', project: 'p1', layers: ['L3'], step: 1, total: 4 },
    })
    expect(state.progress.L3.download).toBeUndefined()
  })

  it('shows what a job says it is doing until denoising starts', () => {
    let state = withProject()
    state = appReducer(state, {
      type: 'event',
      event: { type: 'job.download', job: 'j1', project: 'p1', layers: ['L3'], done_bytes: 40, total_bytes: 40 },
    })
    state = appReducer(state, {
      type: 'event',
      event: { type: 'job.status', job: 'j1', project: 'p1', layers: ['L3'], text: 'loading model sd' },
    })
    expect(state.progress.L3).toEqual({ job: 'j1', step: 0, total: 0, preview: null, status: 'loading model sd', download: undefined })
    state = appReducer(state, {
      type: 'event',
      event: { type: 'job.status', job: 'j1', project: 'other', layers: ['L3'], text: 'elsewhere' },
    })
    expect(state.progress.L3.status).toBe('loading model sd')
    state = appReducer(state, {
      type: 'event',
      event: { type: 'job.progress', job: 'j1', project: 'p1', layers: ['L3'], step: 1, total: 4 },
    })
    expect(state.progress.L3.status).toBeUndefined()
  })

  it('ignores a layer.changed no newer than the project it holds', () => {
    const held = withProject()
    const stale = appReducer(held, {
      type: 'event',
      event: { type: 'layer.changed', project: 'p1', revision: 1, layers: [{ id: 'L3', status: 'running', blob: null, error: null }] },
    })
    expect(stale).toBe(held)
  })

  it('keeps what a layer event said when a reload asked for before it answers with an older document', () => {
    const held = withProject({ ...storyProject(), revision: 1 })
    const blob = 'b'.repeat(64)
    const ready = appReducer(held, {
      type: 'event',
      event: { type: 'layer.changed', project: 'p1', revision: 4, layers: [{ id: 'L3', status: 'ready', blob, error: null }] },
    })
    // The older document is taken (it may hold layers the held one lacks) with the event on top.
    const older = { ...storyProject(), revision: 3, name: 'older', layers: storyProject().layers.map((l) => ({ ...l, status: 'running' as const, blob: null })) }
    const reloaded = appReducer(ready, { type: 'project', project: older })
    expect(reloaded.project?.name).toBe('older')
    expect(reloaded.project?.layers.find((l) => l.id === 'L3')).toMatchObject({ status: 'ready', blob })
    expect(reloaded.project?.layers.find((l) => l.id === 'L1')?.status).toBe('running')
    // A document as new as the event is taken as it is, and the event is forgotten.
    const current = appReducer(reloaded, { type: 'project', project: { ...older, revision: 4 } })
    expect(current.project?.layers.find((l) => l.id === 'L3')?.status).toBe('running')
    expect(current.layerEvents).toEqual({})
  })

  it('removes deleted layers and their selection', () => {
    let state = appReducer(withProject(), { type: 'select', layer: 'L3' })
    state = appReducer(state, { type: 'event', event: { type: 'layer.changed', project: 'p1', revision: 3, deleted: ['L1', 'L3'] } })
    expect(state.project!.layers.map((l) => l.id)).toEqual(['L2'])
    expect(state.selectedLayer).toBeNull()
  })

  it('closes the open project when it is deleted elsewhere', () => {
    let state = appReducer(withProject(), { type: 'projects', projects: [{ id: 'p1', name: 'x', revision: 1, created_at: '', updated_at: '', width: 64, height: 64, layer_count: 0, thumbnail: null }] })
    state = appReducer(state, { type: 'event', event: { type: 'project.changed', project: 'p1', deleted: true } })
    expect(state.project).toBeNull()
    expect(state.projects).toEqual([])
  })

  it('asks for a reload only when the open project has a newer revision', () => {
    const state = withProject()
    expect(needsReload(state, { type: 'project.changed', project: 'p1', revision: 2 })).toBe(true)
    expect(needsReload(state, { type: 'project.changed', project: 'p1', revision: 1 })).toBe(false)
    expect(needsReload(state, { type: 'project.changed', project: 'p2', revision: 9 })).toBe(false)
    expect(needsReload(initialState, { type: 'project.changed', project: 'p1', revision: 9 })).toBe(false)
  })
})

it('lists running jobs, then queued, then finished, newest first', () => {
  let state = withProject()
  const jobs = [
    job('a', { state: 'completed', created_at: '1' }),
    job('b', { state: 'queued', created_at: '2' }),
    job('c', { state: 'running', created_at: '1' }),
    job('d', { state: 'failed', created_at: '3' }),
  ]
  state = appReducer(state, { type: 'jobs', jobs })
  expect(jobList(state.jobs).map((j) => j.id)).toEqual(['c', 'b', 'd', 'a'])
})

it('finds descendants through list inputs', () => {
  const layers = [
    ...storyProject().layers,
    layer('L4', { recipe: { op: 'flatten', op_version: '1', params: {}, inputs: { layers: ['L3', 'L1'] }, output_index: 0 } }),
  ]
  expect([...descendants(layers, 'L2')].sort()).toEqual(['L3', 'L4'])
  expect([...descendants(layers, 'L4')]).toEqual([])
})
