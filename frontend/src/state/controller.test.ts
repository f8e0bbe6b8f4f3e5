import { describe, expect, it, vi } from 'vitest'
import { ApiError } from '../api/client'
import type { Job, ServerEvent } from '../api/types'
import type { ConnectionState } from '../api/socket'
import { job, project, storyProject } from '../test/fixtures'
import { AppController, type Api, type EventsFactory } from './controller'

function fakeApi(overrides: Partial<Api> = {}): Api {
  const fail = () => Promise.reject(new Error('not stubbed'))
  return {
    health: vi.fn(async () => ({ status: 'ok', version: '0', device: 'cpu', dtype: 'float32', tiny_models: true, workers: 1, queued: 0 }) as const),
    ops: vi.fn(async () => ({ ops: [], extensions: [] })),
    models: vi.fn(async () => []),
    loras: vi.fn(async () => []),
    embeddings: vi.fn(async () => []),
    listProjects: vi.fn(async () => []),
    createProject: vi.fn(fail),
    getProject: vi.fn(async () => storyProject()),
    renameProject: vi.fn(fail),
    deleteProject: vi.fn(fail),
    changeCanvas: vi.fn(fail),
    takeRegion: vi.fn(fail),
    outpaint: vi.fn(fail),
    undo: vi.fn(fail),
    redo: vi.fn(fail),
    addLayer: vi.fn(fail),
    uploadImage: vi.fn(fail),
    uploadMask: vi.fn(fail),
    uploadPainting: vi.fn(fail),
    replaceAsset: vi.fn(fail),
    patchLayer: vi.fn(fail),
    deleteLayer: vi.fn(fail),
    workflow: vi.fn(fail),
    exportPng: vi.fn(fail),
    importWorkflow: vi.fn(fail),
    replay: vi.fn(fail),
    extensions: vi.fn(fail),
    useBuiltin: vi.fn(fail),
    reloadExtensions: vi.fn(fail),
    fetchExtension: vi.fn(fail),
    enableExtension: vi.fn(fail),
    discardExtension: vi.fn(fail),
    jobs: vi.fn(async () => []),
    cancelJob: vi.fn(fail),
    consent: vi.fn(async () => []),
    grantConsent: vi.fn(fail),
    ...overrides,
  }
}

function fakeEvents() {
  const handle = {
    emit: (_: ServerEvent) => undefined as void,
    connection: (_: ConnectionState, __: boolean) => undefined as void,
    cancel: vi.fn(() => false),
  }
  const factory: EventsFactory = (onEvent, onState) => {
    handle.emit = onEvent
    handle.connection = onState
    return { start: () => undefined, stop: () => undefined, cancel: handle.cancel }
  }
  return { handle, factory }
}

describe('AppController', () => {
  it('loads health, ops and projects on start', async () => {
    const api = fakeApi()
    const controller = new AppController(api, fakeEvents().factory)
    await controller.start()
    expect(controller.state.health?.tiny_models).toBe(true)
    expect(controller.state.catalog).toEqual({ ops: [], extensions: [] })
  })

  it('reloads the op catalog when the extensions change', async () => {
    const api = fakeApi()
    const events = fakeEvents()
    const controller = new AppController(api, events.factory)
    await controller.start()
    expect(api.ops).toHaveBeenCalledTimes(1)
    events.handle.emit({ type: 'extensions.changed' })
    await vi.waitFor(() => expect(api.ops).toHaveBeenCalledTimes(2))
  })

  it('turns failures into error notices', async () => {
    const api = fakeApi({ listProjects: vi.fn(async () => Promise.reject(new ApiError(500, 'disk full'))) })
    const controller = new AppController(api, fakeEvents().factory)
    await controller.start()
    expect(controller.state.notices.map((n) => n.text)).toEqual(['disk full'])
    controller.dismiss(controller.state.notices[0].id)
    expect(controller.state.notices).toEqual([])
  })

  it('reloads the open project when an event says it changed', async () => {
    const { handle, factory } = fakeEvents()
    const newer = { ...storyProject(), revision: 7 }
    const getProject = vi.fn(async () => storyProject())
    const api = fakeApi({ getProject })
    const controller = new AppController(api, factory)
    await controller.openProject('p1')
    getProject.mockResolvedValue(newer)
    handle.emit({ type: 'project.changed', project: 'p1', revision: 7 })
    await controller.reload()
    expect(controller.state.project?.revision).toBe(7)
  })

  it('coalesces reloads requested while one is in flight', async () => {
    let release: () => void = () => undefined
    const getProject = vi.fn(
      () => new Promise<ReturnType<typeof storyProject>>((resolve) => (release = () => resolve(storyProject()))),
    )
    const controller = new AppController(fakeApi({ getProject }), fakeEvents().factory)
    controller.store.dispatch({ type: 'project', project: storyProject() })
    const first = controller.reload()
    void controller.reload()
    void controller.reload()
    release()
    await vi.waitFor(() => expect(getProject).toHaveBeenCalledTimes(2))
    release()
    await first
    expect(getProject).toHaveBeenCalledTimes(2)
  })

  it('adds a layer, records its jobs and selects it', async () => {
    const result = { project: { ...storyProject(), revision: 2 }, layers: ['L3'], jobs: [job('j9', { layer_id: 'L3' })], notes: {}, consent: [] }
    const addLayer = vi.fn(async () => result)
    const controller = new AppController(fakeApi({ addLayer }), fakeEvents().factory)
    controller.store.dispatch({ type: 'project', project: storyProject() })
    await controller.addLayer({ op: 'dream', params: { prompt: 'x' }, inputs: {} })
    expect(addLayer).toHaveBeenCalledWith('p1', { op: 'dream', params: { prompt: 'x' }, inputs: {} })
    expect(controller.state.selectedLayer).toBe('L3')
    expect(Object.keys(controller.state.jobs)).toEqual(['j9'])
  })

  it('lets form errors through to the form', async () => {
    const error = new ApiError(422, 'invalid', [{ param: 'seed', message: 'bad' }])
    const controller = new AppController(fakeApi({ addLayer: vi.fn(async () => Promise.reject(error)) }), fakeEvents().factory)
    controller.store.dispatch({ type: 'project', project: storyProject() })
    await expect(controller.addLayer({ op: 'dream', params: {}, inputs: {} })).rejects.toBe(error)
  })

  it('undoes only when the project can undo', async () => {
    const undo = vi.fn(async () => ({ ...storyProject(), revision: 3 }))
    const controller = new AppController(fakeApi({ undo }), fakeEvents().factory)
    controller.store.dispatch({ type: 'project', project: storyProject() })
    await controller.undo()
    expect(undo).not.toHaveBeenCalled()
    controller.store.dispatch({ type: 'project', project: { ...storyProject(), revision: 2, can_undo: true } })
    await controller.undo()
    expect(undo).toHaveBeenCalledWith('p1')
    expect(controller.state.project?.revision).toBe(3)
  })

  it('says what an undo took back and what a redo did again, in a toast that goes by itself', async () => {
    vi.useFakeTimers()
    try {
      const held = { ...storyProject(), revision: 2, can_undo: true, undo_label: 'Delete layer “x”', redo_label: null }
      const undone = { ...held, revision: 3, can_redo: true, undo_label: 'Add layer “x”', redo_label: 'Delete layer “x”' }
      const redone = { ...held, revision: 4 }
      const controller = new AppController(fakeApi({ undo: vi.fn(async () => undone), redo: vi.fn(async () => redone) }), fakeEvents().factory)
      controller.store.dispatch({ type: 'project', project: held })
      await controller.undo()
      expect(controller.state.notices.map((n) => [n.kind, n.text])).toEqual([['info', 'Undid: Delete layer “x”']])
      await controller.redo()
      expect(controller.state.notices.map((n) => n.text)).toEqual(['Undid: Delete layer “x”', 'Redid: Delete layer “x”'])
      vi.advanceTimersByTime(10_000)
      expect(controller.state.notices).toEqual([])
    } finally {
      vi.useRealTimers()
    }
  })

  it('cancels over the socket when open, else over REST', async () => {
    const { handle, factory } = fakeEvents()
    const cancelJob = vi.fn(async () => job('j1', { state: 'cancelled' }))
    const controller = new AppController(fakeApi({ cancelJob }), factory)
    handle.cancel.mockReturnValueOnce(true)
    await controller.cancelJob('j1')
    expect(cancelJob).not.toHaveBeenCalled()
    await controller.cancelJob('j1')
    expect(cancelJob).toHaveBeenCalledWith('j1')
  })

  it('reloads after the event stream reconnects', async () => {
    const { handle, factory } = fakeEvents()
    const getProject = vi.fn(async () => storyProject())
    const controller = new AppController(fakeApi({ getProject }), factory)
    controller.store.dispatch({ type: 'project', project: storyProject() })
    handle.connection('open', true)
    await vi.waitFor(() => expect(getProject).toHaveBeenCalledWith('p1'))
    expect(controller.state.connection).toBe('open')
  })

  it('re-reads an imported project whose replay finished before the reply came', async () => {
    const imported = project([], { id: 'p9', name: 'imported' })
    const queued = job('j1', { project_id: 'p9' })
    const importWorkflow = vi.fn(async () => ({ project: imported, layers: [], jobs: [queued], notes: {}, consent: [] }))
    const getProject = vi.fn(async () => ({ ...imported, revision: 3 }))
    const jobs = vi.fn(async () => [{ ...queued, state: 'completed' as const }])
    const controller = new AppController(fakeApi({ importWorkflow, getProject, jobs }), fakeEvents().factory)
    await controller.importFile(new Blob(['{}']), 'w.json')
    expect(getProject).toHaveBeenCalledWith('p9')
    expect(controller.state.project?.revision).toBe(3)
    expect(controller.state.jobs.j1.state).toBe('completed')
  })

  it('opens a project twice only when work was under way', async () => {
    const running = job('j1', { state: 'running' })
    const getProject = vi.fn(async () => storyProject())
    getProject.mockResolvedValueOnce(storyProject()).mockResolvedValueOnce({ ...storyProject(), revision: 2 })
    const jobs = vi.fn(async (): Promise<Job[]> => [{ ...running, state: 'completed' }])
    jobs.mockResolvedValueOnce([running])
    const controller = new AppController(fakeApi({ getProject, jobs }), fakeEvents().factory)
    await controller.openProject('p1')
    expect(getProject).toHaveBeenCalledTimes(2)
    expect(controller.state.jobs.j1.state).toBe('completed')
    expect(controller.state.project?.revision).toBe(2)
    await controller.openProject('p1')
    expect(getProject).toHaveBeenCalledTimes(3)
  })

  it('opens an imported workflow as the current project', async () => {
    const imported = project([], { id: 'p9', name: 'imported' })
    const importWorkflow = vi.fn(async () => ({ project: imported, layers: [], jobs: [], notes: {}, consent: [] }))
    const controller = new AppController(fakeApi({ importWorkflow }), fakeEvents().factory)
    expect(await controller.importFile(new Blob(['{}']), 'w.json')).toEqual(imported)
    expect(controller.state.project?.id).toBe('p9')
  })

  it('asks for consent after an import, on opening a project and on a consent.needed event', async () => {
    const waiting = { layer: 'L2', name: 'DALL-E', op: 'dalle', reason: 'calls OpenAI Images API (paid)' }
    const imported = project([], { id: 'p9', name: 'imported' })
    const importWorkflow = vi.fn(async () => ({ project: imported, layers: [], jobs: [], notes: {}, consent: [waiting] }))
    const consent = vi.fn(async () => [waiting])
    const getProject = vi.fn(async (id: string) => (id === 'p9' ? imported : storyProject()))
    const { handle, factory } = fakeEvents()
    const controller = new AppController(fakeApi({ importWorkflow, consent, getProject }), factory)
    await controller.importFile(new Blob(['{}']), 'w.json')
    expect(controller.state.consent).toEqual([waiting])
    controller.dismissConsent()
    expect(controller.state.consent).toEqual([])
    // The connection coming back reopens the project, but does not ask again what was declined.
    handle.connection('open', true)
    await vi.waitFor(() => expect(consent).toHaveBeenCalledWith('p9'))
    expect(controller.state.consent).toEqual([])
    consent.mockClear()
    handle.emit({ type: 'consent.needed', project: 'other' })
    expect(consent).not.toHaveBeenCalled()
    handle.emit({ type: 'consent.needed', project: 'p9' })
    await vi.waitFor(() => expect(controller.state.consent).toEqual([waiting]))
    expect(consent).toHaveBeenCalledWith('p9')
    controller.closeProject()
    expect(controller.state.consent).toEqual([])
    await controller.openProject('p1')
    expect(consent).toHaveBeenLastCalledWith('p1')
    expect(controller.state.consent).toEqual([waiting])
  })

  it('runs the layers the user consents to and keeps asking for the rest', async () => {
    const a = { layer: 'L2', name: 'DALL-E', op: 'dalle', reason: 'calls OpenAI Images API (paid)' }
    const b = { ...a, layer: 'L3' }
    const queued = job('j7', { layer_id: 'L2' })
    const grantConsent = vi.fn(async () => ({ project: { ...storyProject(), revision: 4 }, layers: ['L2'], jobs: [queued], notes: {}, consent: [b] }))
    const controller = new AppController(fakeApi({ grantConsent, consent: vi.fn(async () => [a, b]) }), fakeEvents().factory)
    await controller.openProject('p1')
    await controller.grantConsent(['L2'])
    expect(grantConsent).toHaveBeenCalledWith('p1', ['L2'])
    expect(controller.state.jobs.j7.state).toBe('queued')
    expect(controller.state.consent).toEqual([b])
  })

  it('shows a project the server does not have as missing, without a notice', async () => {
    const getProject = vi.fn(async () => Promise.reject(new ApiError(404, 'project gone not found')))
    const controller = new AppController(fakeApi({ getProject }), fakeEvents().factory)
    await controller.openProject('gone')
    expect(controller.state.missingProject).toBe('gone')
    expect(controller.state.notices).toEqual([])
    controller.closeProject()
    expect(controller.state.missingProject).toBeNull()
  })

  it('opens the project a URL names when the server lists it, else shows it as missing', async () => {
    const getProject = vi.fn(async () => storyProject())
    const listProjects = vi.fn(async () => [{ id: 'p1', name: 'Test', revision: 1, created_at: '', updated_at: '', width: 64, height: 64, layer_count: 1, thumbnail: null }])
    const controller = new AppController(fakeApi({ getProject, listProjects }), fakeEvents().factory)
    await controller.openFromUrl('nope')
    expect(controller.state.missingProject).toBe('nope')
    expect(getProject).not.toHaveBeenCalled()
    await controller.openFromUrl('p1')
    expect(controller.state.project?.id).toBe('p1')
    expect(controller.state.missingProject).toBeNull()
  })

  it('still reports other failures to open a project as notices', async () => {
    const getProject = vi.fn(async () => Promise.reject(new ApiError(500, 'disk full')))
    const controller = new AppController(fakeApi({ getProject }), fakeEvents().factory)
    await controller.openProject('p1')
    expect(controller.state.missingProject).toBeNull()
    expect(controller.state.notices.map((n) => n.text)).toEqual(['disk full'])
  })
})
