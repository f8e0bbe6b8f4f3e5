/* The REST and WebSocket types come from the server's OpenAPI document, generated into
 * schema.d.ts by `sh scripts/api_types.sh` (tests/test_api_types.py fails when it is stale).
 * Only what that document cannot say is written here: op form schemas (free JSON Schema). */
import type { components } from './schema'

type Schemas = components['schemas']

export type Recipe = Schemas['RecipeOut']
export type RunRecord = Schemas['RunOut']
export type Layer = Schemas['LayerOut']
export type LayerKind = Layer['kind']
export type LayerStatus = Layer['status']
export type LayerInput = Recipe['inputs'][string]
export type Project = Schemas['ProjectOut']
export type ProjectSummary = Schemas['ProjectSummary']
export type Job = Schemas['JobOut']
export type JobState = Job['state']
export type ConsentLayer = Schemas['ConsentOut']
export type LayersQueued = Schemas['LayersQueued']
export type DeleteResult = Schemas['DeleteOut']
export type ReplayLayer = Schemas['ReplayLayer']
export type ReplayResult = ReplayLayer['result']
export type ReplayReport = Schemas['ReplayOut']
export type ExtensionOverride = Schemas['OverrideOut']
export type ExtensionInfo = Schemas['ExtensionOut']
export type InstalledExtension = Schemas['InstalledExtensionOut']
export type ExtensionListing = Schemas['ExtensionsOut']
export type FetchedExtension = Schemas['FetchedOut']
export type Health = Schemas['HealthOut']
export type LocalModel = Schemas['LocalModelOut']
export type LocalLora = Schemas['LocalLoraOut']
export type LocalEmbedding = Schemas['LocalEmbeddingOut']
export type FieldError = Schemas['FieldError']
export type LayerSummary = Schemas['LayerState']
export type ServerEvent = Schemas['ServerEvent']
export type ClientMessage = Schemas['ClientMessage']

/** A workflow file: JSON whose schema is docs/workflow.md's, not the API's. */
export type WorkflowFile = Record<string, unknown>

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
  /** The form widget the op asks for (the UI never guesses one from a parameter's name). */
  'x-opendream-widget'?: 'textarea' | 'seed' | 'points' | 'box' | 'model' | 'loras'
  $ref?: string
  $defs?: Record<string, JsonSchema>
  'x-opendream-layer'?: 'image' | 'mask' | 'any'
  'x-opendream-inputs'?: string[]
  'x-opendream-asset'?: boolean
  /** An integer that defaults to the canvas's width or height when it fits its bounds. */
  'x-opendream-canvas'?: 'width' | 'height'
  /** On a textarea: a diffusion model's text prompt (embeddings and prompt weights apply). */
  'x-opendream-prompt'?: boolean
  /** On a boolean: true exactly when the layer in `input` was made by `op`. */
  'x-opendream-made-by'?: { input: string; op: string }
  /** On an op's schema: named sets of parameter values (e.g. few-step sampling) a form offers. */
  'x-opendream-presets'?: { title: string; values: Record<string, unknown> }[]
}

/** An op as `/api/ops` lists it, its form schema typed (the API says only "a JSON object"). */
export type OpInfo = Omit<Schemas['OpOut'], 'schema'> & { schema: JsonSchema }

export type EnabledExtension = Omit<Schemas['EnabledOut'], 'ops'> & { ops: OpInfo[] }

export type OpCatalog = Omit<Schemas['OpsOut'], 'ops'> & { ops: OpInfo[] }

/** Where a layer's pixels go on the canvas: its scaled image's top-left corner, scale and flips. */
export type Placement = Schemas['PlacementOut']
export type BlendMode = Layer['blend']
/** A new canvas: a size (the anchored part of the old one stays put), a rectangle of the old
 * one, or the box a layer is drawn in. */
export type CanvasChange = Schemas['CanvasResize'] | Schemas['CanvasCrop'] | Schemas['CanvasFit']
export type Anchor = NonNullable<Schemas['CanvasResize']['anchor']>
/** A generation region to take (the canvas under it, made at its op's model's size). */
export type RegionCreate = Schemas['RegionCreate']
/** An outpaint: the canvas enlarged and its new area inpainted. */
export type OutpaintCreate = Schemas['OutpaintCreate']
