/* Running an op in a generation region: the canvas under the region as its image (taken once per
 * rectangle and composition, reused after), its result placed back over the region. */
import { blobUrl } from '../api/client'
import type { LayerInput, LocalModel, Project } from '../api/types'
import type { Box } from '../canvas/placement'
import { loadImage } from '../canvas/images'
import type { Size } from '../canvas/viewport'
import type { AppController } from '../state/controller'
import { DEFAULT_NATIVE_SIDE, existingRegionLayer, generationSize, regionPlacement, type RegionTarget } from './region'

/** The side of the square a listed model generates best at (its family's default size); null
 * when the form cannot tell (no model picked: the server's configured one; one not listed). */
export function nativeSide(models: LocalModel[], model: unknown): number | null {
  const found = typeof model === 'string' && model !== '' ? models.find((m) => m.model === model) : undefined
  if (found === undefined) return null
  const side = Math.max(Number(found.defaults.width ?? 0), Number(found.defaults.height ?? 0))
  return side > 0 ? side : null
}

/** The pixel sizes of the project's visible image layers that have pixels (already loaded by the
 * canvas, so from the browser's cache). */
async function layerSizes(project: Project): Promise<Map<string, Size>> {
  const sizes = new Map<string, Size>()
  const shown = project.layers.filter((l) => l.visible && l.kind === 'image' && l.blob !== null)
  await Promise.all(
    shown.map(async (layer) => {
      const image = await loadImage(blobUrl(layer.blob!))
      sizes.set(layer.id, { width: image.naturalWidth, height: image.naturalHeight })
    }),
  )
  return sizes
}

export interface RegionRun {
  op: string
  target: RegionTarget
  region: Box
  /** The form's request, without the params the region replaces. */
  params: Record<string, unknown>
  inputs: Record<string, LayerInput>
  /** The model's native side, when the form knows it. */
  native: number | null
}

/** Adds the op's layer generated in the region: takes the canvas under it (unless a layer of that
 * rectangle and composition is there to reuse), gives it as the op's image (an op without one:
 * the generation size as its width and height) and places the result over the region. The mask
 * picked for an op's mask input is cut to the region with it (taken anew each time). */
export async function generateInRegion(controller: AppController, run: RegionRun): Promise<void> {
  const project = controller.state.project
  if (project === null) throw new Error('no project is open')
  let output: Size | null = run.native === null ? null : generationSize(run.region, run.native)
  let source: string | null = null
  let layerMask: string | undefined
  let inputs = run.inputs
  if (run.target.image !== null) {
    const mask = run.target.mask === null ? undefined : run.inputs[run.target.mask]
    const sizes = await layerSizes(project)
    const reused = output === null || typeof mask === 'string' ? null : existingRegionLayer(project, run.region, output, (l) => sizes.get(l.id) ?? null)
    const model = String(run.params[run.target.model] ?? '')
    const [taken, cut] = reused !== null ? [reused] : await controller.takeRegion({ ...run.region, op: run.op, model, ...(typeof mask === 'string' ? { mask } : {}) })
    output = { width: Number(taken.recipe.params.output_width), height: Number(taken.recipe.params.output_height) }
    source = taken.id
    if (cut !== undefined && run.target.mask !== null) {
      // The result shows only through the cut mask: elsewhere the canvas keeps its own pixels, not
      // a resampled copy of them.
      inputs = { ...inputs, [run.target.mask]: cut.id }
      layerMask = cut.id
    }
  }
  // An op without an image input (dream) is told its size: the native one, else the server's default.
  const size = output ?? generationSize(run.region, DEFAULT_NATIVE_SIDE)
  const params = run.target.size === null ? run.params : { ...run.params, [run.target.size.width]: size.width, [run.target.size.height]: size.height }
  if (source !== null) inputs = { ...inputs, [run.target.image!]: source }
  await controller.addLayer({ op: run.op, params, inputs, placement: regionPlacement(run.region, size), ...(layerMask !== undefined ? { mask: layerMask } : {}) })
}
