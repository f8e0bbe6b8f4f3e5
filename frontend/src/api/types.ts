export type LayerKind = 'image' | 'mask'
export type LayerStatus = 'pending' | 'running' | 'ready' | 'stale' | 'failed' | 'cancelled'
export type LayerInput = string | string[]

export interface Recipe {
  op: string
  op_version: string
  params: Record<string, unknown>
  inputs: Record<string, LayerInput>
  output_index: number
}

export interface RunRecord {
  duration: number | null
  cache_hit: boolean
  error: string | null
  job: string | null
}

export interface Layer {
  id: string
  name: string
  kind: LayerKind
  status: LayerStatus
  blob: string | null
  visible: boolean
  opacity: number
  group: string
  recipe: Recipe
  run: RunRecord
}

export interface Project {
  id: string
  name: string
  width: number
  height: number
  revision: number
  /** Stack order, bottom first. */
  layers: Layer[]
  can_undo: boolean
  can_redo: boolean
  /** What undo would take back, e.g. `Delete layer “sky”` (null: nothing; "" for an unlabelled change). */
  undo_label: string | null
  /** What redo would do again. */
  redo_label: string | null
}

export interface ProjectSummary {
  id: string
  name: string
  revision: number
  created_at: string
  updated_at: string
  width: number
  height: number
  layer_count: number
  /** Blob of the topmost visible image layer with pixels. */
  thumbnail: string | null
}

export type JobState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled'

export interface Job {
  id: string
  project_id: string
  layer_id: string
  op: string
  force: boolean
  state: JobState
  error: string | null
  outcome: string | null
  created_at: string
  started_at: string | null
  finished_at: string | null
}

/** A layer of an imported file that waits for the user's yes before it runs. */
export interface ConsentLayer {
  /** The first layer of the group that waits. */
  layer: string
  name: string
  op: string
  /** What running it would do, e.g. "calls OpenAI Images API (paid)". */
  reason: string
}

export interface LayersQueued {
  project: Project
  layers: string[]
  jobs: Job[]
  /** Layers still waiting for consent (imports and consent answers). */
  consent?: ConsentLayer[]
}

export interface DeleteResult {
  dry_run: boolean
  deleted: string[]
  project: Project
}

export type ReplayResult = 'exact' | 'differs' | 'new' | 'failed' | 'pending'

export interface ReplayLayer {
  layer: string
  name: string
  op: string
  status: string
  job: string | null
  outcome: string | null
  result: ReplayResult
  blob: string | null
  expected: string | null
  error: string | null
}

export interface ReplayReport {
  ok: boolean
  complete: boolean
  layers: ReplayLayer[]
}

/** The subset of JSON Schema that op schemas use. */
export interface JsonSchema {
  type?: string | string[]
  title?: string
  description?: string
  default?: unknown
  enum?: unknown[]
  const?: unknown
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  exclusiveMaximum?: number
  multipleOf?: number
  maxLength?: number
  pattern?: string
  items?: JsonSchema
  maxItems?: number
  anyOf?: JsonSchema[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  additionalProperties?: boolean | JsonSchema
  widget?: string
  $ref?: string
  $defs?: Record<string, JsonSchema>
  'x-opendream-layer'?: 'image' | 'mask' | 'any'
  'x-opendream-inputs'?: string[]
  'x-opendream-asset'?: boolean
  /** An integer that defaults to the canvas's width or height when it fits its bounds. */
  'x-opendream-canvas'?: 'width' | 'height'
  /** On a boolean: true exactly when the layer in `input` was made by `op`. */
  'x-opendream-made-by'?: { input: string; op: string }
}

export interface OpInfo {
  name: string
  title: string
  version: string
  category: string
  description: string
  deterministic: boolean
  extension: string | null
  /** Set when a user extension's op replaces one of the same name: `builtin` or a bundled extension. */
  overrides?: string | null
  schema: JsonSchema
}

/** A built-in (or bundled) op a user extension replaces with its own of the same name. */
export interface ExtensionOverride {
  op: string
  replaces: string
  /** false: switched off, the built-in runs. */
  active: boolean
}

export interface ExtensionInfo {
  name: string
  source: string
  ops: string[]
  error: string | null
  /** Packages it needs that are not installed (`opendream extensions deps NAME --install`). */
  missing?: string[]
  overrides?: ExtensionOverride[]
}

/** An extension as `GET /api/extensions` lists it: with where it was installed from, if from a URL. */
export interface InstalledExtension extends ExtensionInfo {
  url: string | null
  sha256: string | null
}

export interface ExtensionListing {
  url_install: { allowed: boolean; reason: string | null }
  extensions: InstalledExtension[]
}

/** A download waiting in quarantine for its sha256 to be confirmed. */
export interface FetchedExtension {
  url: string
  name: string
  sha256: string
  size: number
  preview: string
  preview_truncated: boolean
}

export interface EnabledExtension {
  extension: InstalledExtension
  ops: OpInfo[]
}

export interface OpCatalog {
  ops: OpInfo[]
  extensions: ExtensionInfo[]
}

export interface Health {
  status: 'ok'
  version: string
  device: string
  dtype: string
  tiny_models: boolean
  workers: number
  queued: number
}

export interface FieldError {
  param: string
  message: string
}

export type WorkflowFile = Record<string, unknown>

export interface LayerSummary {
  id: string
  status: LayerStatus
  blob: string | null
  error: string | null
}

export type ServerEvent =
  | { type: 'job.queued' | 'job.started' | 'job.completed' | 'job.failed' | 'job.cancelled'; job: Job }
  | {
      type: 'job.progress'
      job: string
      project: string
      layers: string[]
      step: number
      total: number
      preview?: string
    }
  | {
      type: 'job.download'
      job: string
      project: string
      layers: string[]
      done_bytes: number
      /** 0 when the size is not known yet. */
      total_bytes: number
    }
  | {
      type: 'job.status'
      job: string
      project: string
      layers: string[]
      /** What the op is doing before its first step, e.g. "loading model …". */
      text: string
    }
  | { type: 'layer.changed'; project: string; revision: number; layers?: LayerSummary[]; deleted?: string[] }
  | { type: 'project.changed'; project: string; revision?: number; deleted?: boolean }
  | { type: 'extensions.changed' }
  /** A layer of the project stopped before calling out: it waits for consent (GET …/consent). */
  | { type: 'consent.needed'; project: string }
  | { type: 'cancel.accepted'; job: Job }
  | { type: 'error'; detail: string }
