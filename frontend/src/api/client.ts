import type {
  BlendMode,
  CanvasChange,
  ConsentLayer,
  DeleteResult,
  EnabledExtension,
  ExtensionListing,
  FetchedExtension,
  FieldError,
  Health,
  Job,
  LayerInput,
  LayersQueued,
  LocalEmbedding,
  LocalLora,
  LocalModel,
  OpCatalog,
  OutpaintCreate,
  Placement,
  Project,
  ProjectSummary,
  RegionCreate,
  ReplayReport,
  WorkflowFile,
} from './types'

/** An error answered by the server: its status, its message and, for 422, one entry per field. */
export class ApiError extends Error {
  readonly status: number
  readonly fieldErrors: FieldError[]

  constructor(status: number, message: string, fieldErrors: FieldError[] = []) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.fieldErrors = fieldErrors
  }

  /** The messages for one field, keyed by its parameter name (`params.seed` counts as `seed`). */
  errorsFor(param: string): string[] {
    return this.fieldErrors.filter((e) => fieldName(e.param) === param).map((e) => e.message)
  }
}

/** A param's path in the recipe: `params.loras.0.weight` and `loras.0.weight` are both
 * `["loras", "0", "weight"]`, `inputs.mask_layer` is `["mask_layer"]`. */
export function paramPath(param: string): string[] {
  const parts = param.split('.')
  return parts.length > 1 && (parts[0] === 'params' || parts[0] === 'inputs') ? parts.slice(1) : parts
}

/** The field a param names: `params.seed`, `seed` → `seed`; `loras.0.weight` → `loras`. */
export function fieldName(param: string): string {
  return paramPath(param)[0]
}

function isFieldError(value: unknown): value is FieldError {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  return typeof v.param === 'string' && typeof v.message === 'string'
}

/** Turns an error response (JSON `{detail, errors}` or anything else) into an ApiError. */
export async function parseError(response: Response): Promise<ApiError> {
  const text = await response.text()
  let message = text.trim() || `${response.status} ${response.statusText}`
  let errors: FieldError[] = []
  try {
    const body: unknown = JSON.parse(text)
    if (typeof body === 'object' && body !== null) {
      const { detail, errors: raw } = body as Record<string, unknown>
      if (typeof detail === 'string') message = detail
      if (Array.isArray(raw)) errors = raw.filter(isFieldError)
    }
  } catch {
    // not JSON: the text itself is the message
  }
  return new ApiError(response.status, message, errors)
}

type Body = { json: unknown } | { form: FormData } | undefined

async function request(method: string, path: string, body?: Body): Promise<Response> {
  const init: RequestInit = { method, headers: {} }
  if (body && 'json' in body) {
    init.body = JSON.stringify(body.json)
    init.headers = { 'Content-Type': 'application/json' }
  } else if (body && 'form' in body) {
    init.body = body.form
  }
  let response: Response
  try {
    response = await fetch(path, init)
  } catch (error) {
    throw new ApiError(0, `The server cannot be reached (${String(error)})`)
  }
  if (!response.ok) throw await parseError(response)
  return response
}

async function json<T>(method: string, path: string, body?: Body): Promise<T> {
  const response = await request(method, path, body)
  return (await response.json()) as T
}

function fileForm(file: Blob, filename: string): { form: FormData } {
  const form = new FormData()
  form.append('file', file, filename)
  return { form }
}

const projectPath = (id: string) => `/api/projects/${encodeURIComponent(id)}`
const layerPath = (projectId: string, layerId: string) =>
  `${projectPath(projectId)}/layers/${encodeURIComponent(layerId)}`

export interface LayerPatch {
  name?: string
  visible?: boolean
  opacity?: number
  position?: number
  params?: Record<string, unknown>
  inputs?: Record<string, LayerInput | null>
  /** Merged over the layer's placement. */
  placement?: Partial<Placement>
  blend?: BlendMode
  /** A mask layer's id to attach as the layer mask, null to detach it. */
  mask?: string | null
}


export interface NewLayer {
  op: string
  params: Record<string, unknown>
  inputs: Record<string, LayerInput>
  name?: string
  /** Where the canvas draws it (e.g. over a generation region); default: the canvas's top-left, unscaled. */
  placement?: Partial<Placement>
  /** A mask layer's id as its layer mask. */
  mask?: string
}

export const api = {
  health: () => json<Health>('GET', '/api/health'),
  ops: () => json<OpCatalog>('GET', '/api/ops'),
  models: () => json<LocalModel[]>('GET', '/api/models'),
  loras: () => json<LocalLora[]>('GET', '/api/loras'),
  embeddings: () => json<LocalEmbedding[]>('GET', '/api/embeddings'),

  listProjects: () => json<ProjectSummary[]>('GET', '/api/projects'),
  createProject: (name: string, width: number, height: number) =>
    json<Project>('POST', '/api/projects', { json: { name, width, height } }),
  getProject: (id: string) => json<Project>('GET', projectPath(id)),
  renameProject: (id: string, name: string) => json<Project>('PATCH', projectPath(id), { json: { name } }),
  deleteProject: async (id: string) => {
    await request('DELETE', projectPath(id))
  },
  changeCanvas: (id: string, change: CanvasChange) => json<Project>('POST', `${projectPath(id)}/canvas`, { json: change }),
  takeRegion: (id: string, region: RegionCreate) => json<LayersQueued>('POST', `${projectPath(id)}/regions`, { json: region }),
  outpaint: (id: string, outpaint: OutpaintCreate) => json<LayersQueued>('POST', `${projectPath(id)}/outpaint`, { json: outpaint }),
  undo: (id: string) => json<Project>('POST', `${projectPath(id)}/undo`),
  redo: (id: string) => json<Project>('POST', `${projectPath(id)}/redo`),

  addLayer: (projectId: string, layer: NewLayer) =>
    json<LayersQueued>('POST', `${projectPath(projectId)}/layers`, { json: layer }),
  uploadImage: (projectId: string, file: Blob, filename: string) =>
    json<LayersQueued>('POST', `${projectPath(projectId)}/uploads`, fileForm(file, filename)),
  uploadMask: (projectId: string, png: Blob, filename: string) =>
    json<LayersQueued>('POST', `${projectPath(projectId)}/masks`, fileForm(png, filename)),
  uploadPainting: (projectId: string, png: Blob, filename: string) =>
    json<LayersQueued>('POST', `${projectPath(projectId)}/paintings`, fileForm(png, filename)),
  replaceAsset: (projectId: string, layerId: string, file: Blob, filename: string) =>
    json<LayersQueued>('PUT', `${layerPath(projectId, layerId)}/asset`, fileForm(file, filename)),
  patchLayer: (projectId: string, layerId: string, patch: LayerPatch) =>
    json<LayersQueued>('PATCH', layerPath(projectId, layerId), { json: patch }),
  deleteLayer: (projectId: string, layerId: string, dryRun: boolean) =>
    json<DeleteResult>('DELETE', `${layerPath(projectId, layerId)}${dryRun ? '?dry_run=true' : ''}`),

  workflow: (projectId: string, embedAll: boolean) =>
    json<WorkflowFile>('GET', `${projectPath(projectId)}/workflow${embedAll ? '?embed=all' : ''}`),
  exportPng: async (projectId: string) => (await request('GET', `${projectPath(projectId)}/export.png`)).blob(),
  importWorkflow: (file: Blob, filename: string) =>
    json<LayersQueued>('POST', '/api/projects/import', fileForm(file, filename)),
  replay: (projectId: string, force = false) =>
    json<ReplayReport>('POST', `${projectPath(projectId)}/replay`, { json: { force } }),

  extensions: () => json<ExtensionListing>('GET', '/api/extensions'),
  reloadExtensions: () => json<ExtensionListing>('POST', '/api/extensions/reload'),
  useBuiltin: (op: string, useBuiltin: boolean) =>
    json<ExtensionListing>('PUT', `/api/extensions/overrides/${encodeURIComponent(op)}`, {
      json: { use_builtin: useBuiltin },
    }),
  fetchExtension: (url: string) => json<FetchedExtension>('POST', '/api/extensions/fetch', { json: { url } }),
  enableExtension: (sha256: string, code: string) =>
    json<EnabledExtension>('POST', '/api/extensions/enable', { json: { sha256, code } }),
  discardExtension: async (sha256: string) => {
    await request('DELETE', `/api/extensions/pending/${encodeURIComponent(sha256)}`)
  },

  consent: (projectId: string) => json<ConsentLayer[]>('GET', `${projectPath(projectId)}/consent`),
  grantConsent: (projectId: string, layers: string[]) =>
    json<LayersQueued>('POST', `${projectPath(projectId)}/consent`, { json: { layers } }),

  jobs: (projectId: string) => json<Job[]>('GET', `/api/jobs?project=${encodeURIComponent(projectId)}`),
  cancelJob: (jobId: string) => json<Job>('POST', `/api/jobs/${encodeURIComponent(jobId)}/cancel`),
}

/** The URL of a blob's PNG (or its thumbnail); blobs never change, so browsers cache them. */
export function blobUrl(digest: string, thumb = false): string {
  return `/api/blobs/${digest}${thumb ? '?thumb=1' : ''}`
}
