import type {
  ConsentLayer,
  Health,
  Job,
  Layer,
  LayerSummary,
  OpCatalog,
  Project,
  ProjectSummary,
  ServerEvent,
} from '../api/types'
import type { ConnectionState } from '../api/socket'
import { addNotice, noticesAfterJobEvent, pruneNotices, type Notice } from './notices'

export type { Notice } from './notices'

export interface Progress {
  job: string
  step: number
  total: number
  /** A base64 JPEG of the current step, when the op sends one. */
  preview: string | null
  /** Bytes of model weights fetched so far, while the op waits for a download. */
  download?: { done: number; total: number }
  /** What the op said it is doing before its first step, e.g. "loading model …". */
  status?: string
}

export interface AppState {
  health: Health | null
  /** The server's health has been asked for, answered or not: until then the page shows none of
   * its content, which the banner that the health may call for would move under the pointer. */
  started: boolean
  catalog: OpCatalog | null
  projects: ProjectSummary[]
  project: Project | null
  /** The id of a project asked for (by its URL) that the server does not have. */
  missingProject: string | null
  selectedLayer: string | null
  /** Jobs of the open project by id. */
  jobs: Record<string, Job>
  /** Live progress by layer id, while its job runs. */
  progress: Record<string, Progress>
  connection: ConnectionState
  notices: Notice[]
  /** Jobs the user asked to cancel, until their cancelled (or completed) event. */
  cancelling: Record<string, true>
  /** Layers of the open project that wait for the user's consent, while the question is shown. */
  consent: ConsentLayer[]
  /** The newest layer event of each layer of the open project, with its revision: a document
   * older than it (a reload asked for before the event) gets the event's state back on top. */
  layerEvents: Record<string, { revision: number; summary: LayerSummary }>
}

export const initialState: AppState = {
  health: null,
  started: false,
  catalog: null,
  projects: [],
  project: null,
  missingProject: null,
  selectedLayer: null,
  jobs: {},
  progress: {},
  connection: 'connecting',
  notices: [],
  cancelling: {},
  consent: [],
  layerEvents: {},
}

export type AppAction =
  | { type: 'health'; health: Health }
  | { type: 'started' }
  | { type: 'catalog'; catalog: OpCatalog }
  | { type: 'projects'; projects: ProjectSummary[] }
  | { type: 'project'; project: Project }
  | { type: 'project.closed' }
  | { type: 'project.missing'; id: string }
  | { type: 'select'; layer: string | null }
  | { type: 'jobs'; jobs: Job[] }
  | { type: 'event'; event: ServerEvent }
  | { type: 'connection'; state: ConnectionState }
  | { type: 'notice'; notice: Notice }
  | { type: 'notice.dismissed'; id: number }
  | { type: 'cancelling'; job: string; on: boolean }
  | { type: 'consent'; project: string; layers: ConsentLayer[] }

const FINISHED_JOB = new Set(['completed', 'failed', 'cancelled'])

/** How far a job has got: its state only moves forward. */
function jobStage(job: Job): number {
  return FINISHED_JOB.has(job.state) ? 2 : job.state === 'running' ? 1 : 0
}

function withoutKeys<V>(record: Record<string, V>, drop: (key: string, value: V) => boolean): Record<string, V> {
  const entries = Object.entries(record)
  const kept = entries.filter(([key, value]) => !drop(key, value))
  return kept.length === entries.length ? record : Object.fromEntries(kept)
}

function keepSelection(selected: string | null, project: Project): string | null {
  return selected !== null && project.layers.some((l) => l.id === selected) ? selected : null
}

/** Progress survives only for layers that are still running. */
function pruneProgress(progress: Record<string, Progress>, layers: Layer[]): Record<string, Progress> {
  const running = new Set(layers.filter((l) => l.status === 'running').map((l) => l.id))
  return withoutKeys(progress, (id) => !running.has(id))
}

function loadProject(state: AppState, loaded: Project): AppState {
  const current = state.project
  if (current !== null && current.id === loaded.id && loaded.revision < current.revision) return state
  const sameProject = current?.id === loaded.id
  const newer = sameProject ? Object.values(state.layerEvents).filter((e) => e.revision > loaded.revision) : []
  const project = newer.length > 0 ? applyLayerSummaries(loaded, newer.map((e) => e.summary)) : loaded
  return {
    ...state,
    project,
    layerEvents: Object.fromEntries(newer.map((e) => [e.summary.id, e])),
    missingProject: null,
    selectedLayer: sameProject ? keepSelection(state.selectedLayer, project) : null,
    jobs: sameProject ? state.jobs : {},
    progress: pruneProgress(sameProject ? state.progress : {}, project.layers),
    consent: sameProject ? state.consent : [],
  }
}

function applyLayerSummaries(project: Project, summaries: LayerSummary[]): Project {
  const byId = new Map(summaries.map((s) => [s.id, s]))
  return {
    ...project,
    layers: project.layers.map((layer) => {
      const s = byId.get(layer.id)
      return s ? { ...layer, status: s.status, blob: s.blob, run: { ...layer.run, error: s.error } } : layer
    }),
  }
}

function applyEvent(state: AppState, event: ServerEvent): AppState {
  const project = state.project
  switch (event.type) {
    case 'job.queued':
    case 'job.started':
    case 'job.completed':
    case 'job.failed':
    case 'job.cancelled':
    case 'cancel.accepted': {
      const job = event.job
      if (project === null || job.project_id !== project.id) return state
      // A late copy (the reply of the request that queued a job that has already run) is stale.
      const held = state.jobs[job.id]
      if (held !== undefined && jobStage(job) < jobStage(held)) return state
      const finished = FINISHED_JOB.has(job.state)
      const progress = finished ? withoutKeys(state.progress, (_, p) => p.job === job.id) : state.progress
      const cancelling = finished ? withoutKeys(state.cancelling, (id) => id === job.id) : state.cancelling
      const notices = noticesAfterJobEvent(state.notices, event)
      return { ...state, jobs: { ...state.jobs, [job.id]: job }, progress, cancelling, notices }
    }
    case 'job.progress': {
      if (project === null || event.project !== project.id) return state
      const entry: Progress = { job: event.job, step: event.step, total: event.total, preview: event.preview ?? null }
      const progress = { ...state.progress }
      for (const id of event.layers) progress[id] = entry
      return { ...state, progress }
    }
    case 'job.download':
    case 'job.status': {
      if (project === null || event.project !== project.id) return state
      // A status starts a new phase: a finished download is no longer news.
      const news =
        event.type === 'job.download'
          ? { download: { done: event.done_bytes, total: event.total_bytes } }
          : { status: event.text, download: undefined }
      const progress = { ...state.progress }
      for (const id of event.layers) {
        progress[id] = { ...(progress[id] ?? { job: event.job, step: 0, total: 0, preview: null }), ...news }
      }
      return { ...state, progress }
    }
    case 'layer.changed': {
      if (project === null || event.project !== project.id) return state
      // An event no newer than the document held (e.g. one that raced a reload) would regress it.
      if (event.revision <= project.revision) return state
      let next = project
      const layerEvents = { ...state.layerEvents }
      if (event.layers) {
        next = applyLayerSummaries(next, event.layers)
        for (const summary of event.layers) layerEvents[summary.id] = { revision: event.revision, summary }
      }
      if (event.deleted) {
        const gone = new Set(event.deleted)
        next = { ...next, layers: next.layers.filter((l) => !gone.has(l.id)) }
      }
      return {
        ...state,
        project: next,
        selectedLayer: keepSelection(state.selectedLayer, next),
        progress: pruneProgress(state.progress, next.layers),
        layerEvents,
      }
    }
    case 'project.changed': {
      if (event.deleted !== true) return state
      const projects = state.projects.filter((p) => p.id !== event.project)
      if (project?.id === event.project) {
        return { ...state, projects, project: null, selectedLayer: null, jobs: {}, progress: {}, consent: [] }
      }
      return { ...state, projects }
    }
    case 'extensions.changed':
    case 'consent.needed':
    case 'error':
      return state
  }
}

export function appReducer(state: AppState, action: AppAction): AppState {
  const next = reduce(state, action)
  const notices = pruneNotices(state.project, next.project, next.notices)
  return notices === next.notices ? next : { ...next, notices }
}

function reduce(state: AppState, action: AppAction): AppState {
  switch (action.type) {
    case 'health':
      return { ...state, health: action.health }
    case 'started':
      return { ...state, started: true }
    case 'catalog':
      return { ...state, catalog: action.catalog }
    case 'projects':
      return { ...state, projects: action.projects }
    case 'project':
      return loadProject(state, action.project)
    case 'project.closed':
      return { ...state, project: null, missingProject: null, selectedLayer: null, jobs: {}, progress: {}, consent: [] }
    case 'project.missing':
      return { ...state, project: null, missingProject: action.id, selectedLayer: null, jobs: {}, progress: {}, consent: [] }
    case 'select':
      if (action.layer !== null && !state.project?.layers.some((l) => l.id === action.layer)) return state
      return { ...state, selectedLayer: action.layer }
    case 'jobs': {
      const project = state.project
      if (project === null) return state
      // A snapshot can be older than the events that arrived while it travelled.
      const newest = (job: Job) => {
        const held = state.jobs[job.id]
        return held !== undefined && jobStage(held) > jobStage(job) ? held : job
      }
      const jobs = Object.fromEntries(action.jobs.filter((j) => j.project_id === project.id).map((j) => [j.id, newest(j)]))
      const cancelling = withoutKeys(state.cancelling, (id) => jobs[id] !== undefined && !isActive(jobs[id]))
      return { ...state, jobs, cancelling }
    }
    case 'event':
      return applyEvent(state, action.event)
    case 'connection':
      return { ...state, connection: action.state }
    case 'notice':
      return { ...state, notices: addNotice(state.notices, action.notice) }
    case 'notice.dismissed':
      return { ...state, notices: state.notices.filter((n) => n.id !== action.id) }
    case 'consent':
      return state.project?.id === action.project ? { ...state, consent: action.layers } : state
    case 'cancelling':
      return {
        ...state,
        cancelling: action.on ? { ...state.cancelling, [action.job]: true } : withoutKeys(state.cancelling, (id) => id === action.job),
      }
  }
}

/** Whether an event says the open project's document is newer than the one held. */
export function needsReload(state: AppState, event: ServerEvent): boolean {
  const project = state.project
  if (project === null) return false
  if (event.type !== 'project.changed' && event.type !== 'layer.changed') return false
  if (event.project !== project.id || event.revision == null) return false
  return event.revision > project.revision
}

export function isActive(job: Job): boolean {
  return jobStage(job) < 2
}

/** Jobs of the open project, the active ones first, each group newest first. */
export function jobList(jobs: Record<string, Job>): Job[] {
  const rank = (job: Job) => (job.state === 'running' ? 0 : job.state === 'queued' ? 1 : 2)
  return Object.values(jobs).sort(
    (a, b) => rank(a) - rank(b) || b.created_at.localeCompare(a.created_at),
  )
}

/** Whether the user asked to cancel the job now running (or queued) for a layer. */
export function layerCancelling(state: AppState, layerId: string): boolean {
  return Object.keys(state.cancelling).some((id) => state.jobs[id]?.layer_id === layerId)
}

export function layerById(project: Project | null, id: string | null): Layer | undefined {
  if (project === null || id === null) return undefined
  return project.layers.find((l) => l.id === id)
}
