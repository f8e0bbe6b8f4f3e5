import { ApiError, api as httpApi, type LayerPatch, type NewLayer } from '../api/client'
import type { CanvasChange, LayersQueued, OutpaintCreate, Project, RegionCreate, ServerEvent } from '../api/types'
import { EventSocket, eventsUrl, type ConnectionState } from '../api/socket'
import { fileHead, isPicture, notAPicture } from '../files/classify'
import { appReducer, initialState, isActive, needsReload, type AppAction, type AppState } from './app'
import { createStore, type Store } from './store'

export type Api = typeof httpApi

const TOAST_MS = 4000

interface Events {
  start(): void
  stop(): void
  cancel(jobId: string): boolean
}

export type EventsFactory = (
  onEvent: (event: ServerEvent) => void,
  onState: (state: ConnectionState, reconnected: boolean) => void,
) => Events

export const browserEvents: EventsFactory = (onEvent, onState) =>
  new EventSocket({ url: eventsUrl(window.location), onEvent, onState })

/** Everything the UI does to the server, keeping the store in step with it. */
export class AppController {
  readonly store: Store<AppState, AppAction>
  readonly api: Api
  /** Layers of the open project the user said "Not now" to. */
  private readonly dismissed = new Set<string>()
  private readonly events: Events
  private nextNotice = 1
  private reloading: Promise<void> | null = null
  private reloadAgain = false

  constructor(api: Api, eventsFactory: EventsFactory) {
    this.api = api
    this.store = createStore(appReducer, initialState)
    this.events = eventsFactory(
      (event) => this.onEvent(event),
      (state, reconnected) => this.onConnection(state, reconnected),
    )
  }

  get state(): AppState {
    return this.store.getState()
  }

  async start(): Promise<void> {
    this.events.start()
    await Promise.all([
      this.guard(async () => this.store.dispatch({ type: 'health', health: await this.api.health() })).then(() =>
        this.store.dispatch({ type: 'started' }),
      ),
      this.refreshCatalog(),
      this.refreshProjects(),
    ])
  }

  stop(): void {
    this.events.stop()
  }

  /** Shows a notice; its id. */
  notify(text: string, kind: 'error' | 'info' = 'error', about: { layer?: string; job?: string } = {}): number {
    const id = this.nextNotice++
    this.store.dispatch({ type: 'notice', notice: { id, kind, text, ...about } })
    return id
  }

  /** A passing word (what an undo did): it goes by itself. */
  private toast(text: string): void {
    const id = this.notify(text, 'info')
    setTimeout(() => this.dismiss(id), TOAST_MS)
  }

  dismiss(id: number): void {
    this.store.dispatch({ type: 'notice.dismissed', id })
  }

  /** Runs `work`; a failure becomes an error notice and `undefined`. */
  async guard<T>(work: () => Promise<T>): Promise<T | undefined> {
    try {
      return await work()
    } catch (error) {
      this.notify(error instanceof Error ? error.message : String(error))
      return undefined
    }
  }

  /** Reloads the ops and extensions (after an install, a reload or an edited extension file). */
  async refreshCatalog(): Promise<void> {
    await this.guard(async () => this.store.dispatch({ type: 'catalog', catalog: await this.api.ops() }))
  }

  async refreshProjects(): Promise<void> {
    await this.guard(async () => {
      this.store.dispatch({ type: 'projects', projects: await this.api.listProjects() })
    })
  }

  /** Opens a project; one the server does not have shows as missing (its URL may be stale). */
  async openProject(id: string): Promise<void> {
    if (id !== this.state.project?.id) this.dismissed.clear()
    await this.guard(async () => {
      try {
        await this.fetchProject(id)
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error
        this.store.dispatch({ type: 'project.missing', id })
        return
      }
      // Events count only for the open project: what finished while the first copy travelled
      // is in a second one.
      if (Object.values(this.state.jobs).some(isActive)) await this.fetchProject(id)
      await this.askConsent(id)
    })
  }

  /** Fetches the layers of the project that wait for the user's consent (a dialog asks), but
   * those the user said "Not now" to, unless ``again`` (a run stopped for consent since). */
  private async askConsent(id: string, again = false): Promise<void> {
    if (again) this.dismissed.clear()
    const waiting = await this.api.consent(id)
    this.store.dispatch({ type: 'consent', project: id, layers: waiting.filter((w) => !this.dismissed.has(w.layer)) })
  }

  /** The user's yes: the layers run (and may call their service or download their model). */
  async grantConsent(layers: string[]): Promise<void> {
    await this.guard(async () => {
      const id = this.projectId()
      const result = this.applyQueued(await this.api.grantConsent(id, layers))
      this.store.dispatch({ type: 'consent', project: id, layers: result.consent ?? [] })
    })
  }

  /** "Not now": the layers keep waiting; the question comes back when the project is opened
   * again or a run stops for consent, not when the connection comes back. */
  dismissConsent(): void {
    const id = this.state.project?.id
    for (const waiting of this.state.consent) this.dismissed.add(waiting.layer)
    if (id !== undefined) this.store.dispatch({ type: 'consent', project: id, layers: [] })
  }

  /** Opens the project a URL names; one the server does not list shows as missing (without
   * asking for it, which would fail). */
  async openFromUrl(id: string): Promise<void> {
    const projects = await this.guard(() => this.api.listProjects())
    if (projects === undefined) return
    this.store.dispatch({ type: 'projects', projects })
    if (projects.some((p) => p.id === id)) await this.openProject(id)
    else this.store.dispatch({ type: 'project.missing', id })
  }

  private async fetchProject(id: string): Promise<void> {
    const [project, jobs] = await Promise.all([this.api.getProject(id), this.api.jobs(id)])
    this.store.dispatch({ type: 'project', project })
    this.store.dispatch({ type: 'jobs', jobs })
  }

  closeProject(): void {
    this.dismissed.clear()
    this.store.dispatch({ type: 'project.closed' })
    void this.refreshProjects()
  }

  async createProject(name: string, width: number, height: number): Promise<void> {
    const project = await this.api.createProject(name, width, height)
    this.store.dispatch({ type: 'project', project })
    this.store.dispatch({ type: 'jobs', jobs: [] })
    void this.refreshProjects()
  }

  async renameProject(id: string, name: string): Promise<void> {
    await this.guard(async () => {
      const project = await this.api.renameProject(id, name)
      if (this.state.project?.id === id) this.store.dispatch({ type: 'project', project })
      await this.refreshProjects()
    })
  }

  async deleteProject(id: string): Promise<void> {
    await this.guard(async () => {
      await this.api.deleteProject(id)
      if (this.state.project?.id === id) this.store.dispatch({ type: 'project.closed' })
      await this.refreshProjects()
    })
  }

  /** Reloads the open project; calls made while one is in flight share one more reload. */
  reload(): Promise<void> {
    if (this.reloading !== null) {
      this.reloadAgain = true
      return this.reloading
    }
    this.reloading = (async () => {
      do {
        this.reloadAgain = false
        const id = this.state.project?.id
        if (id === undefined) break
        await this.guard(async () => this.store.dispatch({ type: 'project', project: await this.api.getProject(id) }))
      } while (this.reloadAgain)
      this.reloading = null
    })()
    return this.reloading
  }

  select(layer: string | null): void {
    this.store.dispatch({ type: 'select', layer })
  }

  private projectId(): string {
    const project = this.state.project
    if (project === null) throw new Error('no project is open')
    return project.id
  }

  private applyQueued(result: LayersQueued): LayersQueued {
    this.store.dispatch({ type: 'project', project: result.project })
    for (const job of result.jobs) this.store.dispatch({ type: 'event', event: { type: 'job.queued', job } })
    return result
  }

  /** Adds a layer made by an op and selects it. Throws ApiError (with field errors) for the form. */
  async addLayer(layer: NewLayer): Promise<void> {
    const result = this.applyQueued(await this.api.addLayer(this.projectId(), layer))
    if (result.layers.length > 0) this.select(result.layers[0])
  }

  /** Changes a layer; a params/inputs change re-runs it. Throws ApiError for the form. */
  async editLayer(layerId: string, patch: LayerPatch): Promise<void> {
    this.applyQueued(await this.api.patchLayer(this.projectId(), layerId, patch))
  }

  /** Presentation changes (visibility, opacity, name, order): failures become notices. */
  async patchLayer(layerId: string, patch: LayerPatch): Promise<void> {
    await this.guard(() => this.editLayer(layerId, patch))
  }

  /** Resizes, crops or fits the canvas (one undo step). Throws ApiError for the dialog. */
  async changeCanvas(change: CanvasChange): Promise<void> {
    this.store.dispatch({ type: 'project', project: await this.api.changeCanvas(this.projectId(), change) })
  }

  /** Takes a region and adds the op's layer generated from it (one undo step); selects that
   * layer. Throws ApiError for the form. */
  async generateInRegion(region: RegionCreate): Promise<void> {
    const result = this.applyQueued(await this.api.takeRegion(this.projectId(), region))
    const made = result.layers.at(-1)
    if (made !== undefined) this.select(made)
  }

  /** Enlarges the canvas and inpaints its new area (one undo step); selects the fill. Throws
   * ApiError for the dialog. */
  async outpaint(outpaint: OutpaintCreate): Promise<void> {
    const result = this.applyQueued(await this.api.outpaint(this.projectId(), outpaint))
    const fill = result.layers.at(-1)
    if (fill !== undefined) this.select(fill)
  }

  /** The layer and its descendants that a delete would remove, in stack order. */
  async deletePreview(layerId: string): Promise<string[] | undefined> {
    return this.guard(async () => (await this.api.deleteLayer(this.projectId(), layerId, true)).deleted)
  }

  async deleteLayer(layerId: string): Promise<void> {
    await this.guard(async () => {
      const result = await this.api.deleteLayer(this.projectId(), layerId, false)
      this.store.dispatch({ type: 'project', project: result.project })
    })
  }

  async undo(): Promise<void> {
    await this.history(false)
  }

  async redo(): Promise<void> {
    await this.history(true)
  }

  private async history(redo: boolean): Promise<void> {
    const project = this.state.project
    if (project === null || !(redo ? project.can_redo : project.can_undo)) return
    await this.guard(async () => {
      const next = redo ? await this.api.redo(project.id) : await this.api.undo(project.id)
      this.store.dispatch({ type: 'project', project: next })
      // The server's answer names the step it took (the history is shared with other tabs, so
      // the label held before asking may be stale): undone, it is the one redo would do again.
      const label = redo ? next.undo_label : next.redo_label
      this.toast(`${redo ? 'Redid' : 'Undid'}: ${label || 'the last change'}`)
    })
  }

  /** Adds a picture as a layer; anything else is refused here, in the words a drop uses. */
  async uploadImage(file: File): Promise<void> {
    if (!isPicture(file.name, file.type, await fileHead(file))) {
      this.notify(notAPicture(file.name))
      return
    }
    await this.guard(async () => {
      const result = this.applyQueued(await this.api.uploadImage(this.projectId(), file, file.name))
      if (result.layers.length > 0) this.select(result.layers[0])
    })
  }

  /** Replaces the pixels of a painted mask, paint or uploaded image layer; the layers made from
   * it re-run (a job still running the old pixels is superseded). What the server queued. */
  async replaceAsset(layerId: string, png: Blob, name: string): Promise<LayersQueued | undefined> {
    return this.guard(async () => this.applyQueued(await this.api.replaceAsset(this.projectId(), layerId, png, name)))
  }

  /** A new paint layer with these pixels (RGBA), selected; what the server queued. */
  async uploadPainting(png: Blob, name: string): Promise<LayersQueued | undefined> {
    return this.guard(async () => {
      const result = this.applyQueued(await this.api.uploadPainting(this.projectId(), png, name))
      if (result.layers.length > 0) this.select(result.layers[0])
      return result
    })
  }

  async uploadMask(png: Blob, name: string): Promise<void> {
    await this.guard(async () => {
      const result = this.applyQueued(await this.api.uploadMask(this.projectId(), png, name))
      if (result.layers.length > 0) this.select(result.layers[0])
    })
  }

  /** Opens a workflow JSON, self-contained file or exported PNG as a new project. */
  async importFile(file: Blob, filename: string): Promise<Project | undefined> {
    return this.guard(async () => {
      const result = await this.api.importWorkflow(file, filename)
      this.store.dispatch({ type: 'project', project: result.project })
      this.store.dispatch({ type: 'jobs', jobs: result.jobs })
      // Its replay started before this reply came, when its events did not count yet.
      if (result.jobs.length > 0) await this.fetchProject(result.project.id)
      this.store.dispatch({ type: 'consent', project: result.project.id, layers: result.consent ?? [] })
      void this.refreshProjects()
      return result.project
    })
  }

  /** Marks the job as cancelling at once (the UI says so) until its cancelled or completed event. */
  async cancelJob(jobId: string): Promise<void> {
    this.store.dispatch({ type: 'cancelling', job: jobId, on: true })
    if (this.events.cancel(jobId)) return
    const done = await this.guard(async () => {
      const job = await this.api.cancelJob(jobId)
      this.store.dispatch({ type: 'event', event: { type: 'job.cancelled', job } })
      return true
    })
    if (done === undefined) this.store.dispatch({ type: 'cancelling', job: jobId, on: false })
  }

  private onEvent(event: ServerEvent): void {
    if (event.type === 'error') {
      this.notify(event.detail)
      return
    }
    this.store.dispatch({ type: 'event', event })
    if (event.type === 'job.failed' && event.job.project_id === this.state.project?.id) {
      const { op, error, layer_id, id } = event.job
      this.notify(`${op} failed: ${error ?? 'unknown error'}`, 'error', { layer: layer_id, job: id })
    }
    if (needsReload(this.state, event)) void this.reload()
    if (event.type === 'project.changed' && event.project !== this.state.project?.id) void this.refreshProjects()
    if (event.type === 'extensions.changed') void this.refreshCatalog()
    if (event.type === 'consent.needed' && event.project === this.state.project?.id) {
      void this.guard(() => this.askConsent(event.project, true))
    }
  }

  private onConnection(state: ConnectionState, reconnected: boolean): void {
    this.store.dispatch({ type: 'connection', state })
    if (state === 'open' && reconnected) {
      void this.refreshProjects()
      const id = this.state.project?.id
      if (id !== undefined) void this.openProject(id)
    }
  }
}

export function isApiError(error: unknown): error is ApiError {
  return error instanceof ApiError
}
