/* Generation regions: a rectangle of the canvas an op generates into (InvokeAI's bounding box).
 * The server takes the visible canvas under it as a hidden `canvas_region` layer made at the size
 * the op's model generates best at; the op's result is placed back over the rectangle. */
import type { JsonSchema, Layer, Placement, Project } from '../api/types'
import type { Box } from '../canvas/placement'
import type { Size } from '../canvas/viewport'

/** The server's smallest region side (a canvas's smallest side). */
export const MIN_REGION_SIDE = 8
/** The server's grid for generation sizes (it suits every model family) and largest side. */
export const GENERATION_GRID = 16
export const MAX_GENERATION_SIDE = 2048

const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value))

/** The rectangle dragged from `a` to `b`: on whole pixels, inside the canvas; null when smaller
 * than 8 × 8 px there (a click, or a drag mostly outside the canvas). */
export function regionFromDrag(a: { x: number; y: number }, b: { x: number; y: number }, canvas: Size): Box | null {
  const x0 = clamp(Math.round(Math.min(a.x, b.x)), 0, canvas.width)
  const y0 = clamp(Math.round(Math.min(a.y, b.y)), 0, canvas.height)
  const x1 = clamp(Math.round(Math.max(a.x, b.x)), 0, canvas.width)
  const y1 = clamp(Math.round(Math.max(a.y, b.y)), 0, canvas.height)
  if (x1 - x0 < MIN_REGION_SIDE || y1 - y0 < MIN_REGION_SIDE) return null
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }
}

/** A moved or resized region back on whole pixels inside the canvas, at least 8 × 8 (a region
 * dragged past an edge stops there, keeping its size). */
export function fitRegion(box: Box, canvas: Size): Box {
  const width = clamp(Math.round(box.width), MIN_REGION_SIDE, canvas.width)
  const height = clamp(Math.round(box.height), MIN_REGION_SIDE, canvas.height)
  return { x: clamp(Math.round(box.x), 0, canvas.width - width), y: clamp(Math.round(box.y), 0, canvas.height - height), width, height }
}

/** Whether tuple `a` sorts before `b`, element by element (as the server's Python compares them). */
function before(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return a[i] < b[i]
  return false
}

/** Python's round(): halves go to the even neighbour (the server computes sizes with it). */
function roundHalfEven(value: number): number {
  const floor = Math.floor(value)
  const rest = value - floor
  if (Math.abs(rest - 0.5) > 1e-9) return Math.round(value)
  return floor % 2 === 0 ? floor : floor + 1
}

/** The size the server generates `region` at (opendream.core.regions.generation_size): about the
 * model's native area (`native` squared) with the region's aspect, on the grid; among the grid
 * widths near the ideal one the one whose height keeps the aspect best. */
export function generationSize(region: Size, native: number, multiple = GENERATION_GRID): Size {
  const scale = Math.min(native / Math.sqrt(region.width * region.height), MAX_GENERATION_SIDE / Math.max(region.width, region.height))
  const ideal = region.width * scale
  let best: [number, number, number, number] | null = null
  const low = Math.max(multiple, Math.floor((ideal * 0.9) / multiple) * multiple)
  const high = Math.ceil((ideal * 1.1) / multiple) * multiple
  for (let width = low; width <= high; width += multiple) {
    const height = Math.max(multiple, roundHalfEven((width * region.height) / region.width / multiple) * multiple)
    if (Math.max(width, height) > MAX_GENERATION_SIDE) continue
    const error = Math.round(Math.abs((height * region.width) / width - region.height) * 1e6) / 1e6
    const candidate: [number, number, number, number] = [error, Math.abs(width - ideal), width, height]
    if (best === null || before(candidate, best)) best = candidate
  }
  return best === null ? { width: multiple, height: multiple } : { width: best[2], height: best[3] }
}

/** How an op's result comes back over a region generated at `output`: one uniform scale. */
export function regionPlacement(region: Box, output: Size): Partial<Placement> {
  return { x: region.x, y: region.y, scale: region.width / output.width }
}

/** What a region takes the place of in an op's form: its image input, or (an op without one, like
 * `dream`) its width and height; null for an op that does not generate with a model. */
export interface RegionTarget {
  /** The image input the canvas under the region fills. */
  image: string | null
  /** The size params set to the generation size (without an image input). */
  size: { width: string; height: string } | null
  /** The model param, whose family sets the generation size. */
  model: string
  /** The op's mask input (inpainting): the mask layer picked for it is cut to the region too. */
  mask: string | null
}

/** The region target of an op's schema, told from its params: a model picker (`x-opendream-widget:
 * model`) makes it a generator; it then needs a single required image input, or width and height
 * params that default to the canvas's. */
export function regionTarget(schema: JsonSchema): RegionTarget | null {
  const properties = Object.entries(schema.properties ?? {})
  const model = properties.find(([, p]) => p['x-opendream-widget'] === 'model')?.[0]
  if (model === undefined) return null
  const required = new Set(schema.required ?? [])
  const single = (kind: string) => properties.find(([name, p]) => p['x-opendream-layer'] === kind && p.type !== 'array' && required.has(name))?.[0]
  const image = single('image')
  const mask = single('mask') ?? null
  if (image !== undefined) return { image, size: null, model, mask }
  const width = properties.find(([, p]) => p['x-opendream-canvas'] === 'width')?.[0]
  const height = properties.find(([, p]) => p['x-opendream-canvas'] === 'height')?.[0]
  if (width === undefined || height === undefined) return null
  return { image: null, size: { width, height }, model, mask }
}

/** The params a form replaces when generating in a region. */
export function replacedParams(target: RegionTarget): string[] {
  return target.image !== null ? [target.image] : target.size !== null ? [target.size.width, target.size.height] : []
}

/** One layer as a `canvas_region` recipe records it (`drawn`). */
export interface DrawnRecord {
  x: number
  y: number
  scale: number
  flip_x: boolean
  flip_y: boolean
  opacity: number
  blend: string
  mask: number
}

/** The layers a region taken now would be composed from, bottom first, as the server lists them
 * (opendream.core.regions.region_recipe): the visible image layers reaching into it; a layer whose
 * size is not known (no pixels yet) counts, as it may cover the region once it has run. */
export function regionComposition(layers: Layer[], region: Box, sizeOf: (layer: Layer) => Size | null): { layers: string[]; drawn: DrawnRecord[]; masks: string[] } {
  const ids: string[] = []
  const drawn: DrawnRecord[] = []
  const masks: string[] = []
  for (const layer of layers) {
    if (!layer.visible || layer.kind !== 'image') continue
    const size = sizeOf(layer)
    if (size !== null) {
      const { x, y, scale } = layer.placement
      const right = x + Math.max(1, Math.round(size.width * scale))
      const bottom = y + Math.max(1, Math.round(size.height * scale))
      if (right <= region.x || bottom <= region.y || x >= region.x + region.width || y >= region.y + region.height) continue
    }
    let mask = -1
    if (layer.mask !== null) {
      if (!masks.includes(layer.mask)) masks.push(layer.mask)
      mask = masks.indexOf(layer.mask)
    }
    ids.push(layer.id)
    const { x, y, scale, flip_x, flip_y } = layer.placement
    drawn.push({ x, y, scale, flip_x, flip_y, opacity: layer.opacity, blend: layer.blend, mask })
  }
  return { layers: ids, drawn, masks }
}

const sameList = (a: unknown, b: unknown[]) => Array.isArray(a) && a.length === b.length && a.every((v, i) => v === b[i])

function sameDrawn(recorded: unknown, now: DrawnRecord[]): boolean {
  if (!Array.isArray(recorded) || recorded.length !== now.length) return false
  return now.every((d, i) => {
    const r = recorded[i] as Record<string, unknown>
    return (Object.keys(d) as (keyof DrawnRecord)[]).every((k) => r[k] === d[k])
  })
}

/** A `canvas_region` layer already taken of `region` at `output`, composed as the canvas is now
 * (so it holds the same pixels): reused instead of taking another. Failed ones are not. */
export function existingRegionLayer(project: Project, region: Box, output: Size, sizeOf: (layer: Layer) => Size | null): Layer | null {
  const now = regionComposition(project.layers, region, sizeOf)
  for (const layer of project.layers) {
    const { op, params, inputs } = layer.recipe
    if (op !== 'canvas_region' || layer.status === 'failed' || layer.status === 'cancelled') continue
    const same =
      params.x === region.x &&
      params.y === region.y &&
      params.width === region.width &&
      params.height === region.height &&
      params.output_width === output.width &&
      params.output_height === output.height &&
      sameList(inputs.layers, now.layers) &&
      sameList(inputs.masks ?? [], now.masks) &&
      sameDrawn(params.drawn, now.drawn)
    if (same) return layer
  }
  return null
}
