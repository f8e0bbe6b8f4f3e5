/* Running an op in a generation region: the canvas under the region as its image (taken once per
 * rectangle and composition, reused after), its result placed back over the region. */
import { blobUrl } from '../api/client'
import type { LayerInput, LocalModel, Project } from '../api/types'
import type { Box } from '../canvas/placement'
import { loadImage } from '../canvas/images'
import type { Size } from '../canvas/viewport'
import type { AppController } from '../state/controller'
import { existingRegionLayer, generationSize, regionPlacement, type RegionTarget } from './region'

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

/** Adds the op's layer generated in the region, as one undo step: the canvas under the region is
 * its image (a layer of that rectangle and composition is reused when there is one; an op without
 * an image input, like dream, is told the generation size instead) and the mask picked for its
 * mask input is cut to the region with it (taken anew each time). The result is placed over the
 * region. */
export async function generateInRegion(controller: AppController, run: RegionRun): Promise<void> {
  const project = controller.state.project
  if (project === null) throw new Error('no project is open')
  const output: Size | null = run.native === null ? null : generationSize(run.region, run.native)
  const image = run.target.image
  const mask = run.target.mask === null ? undefined : run.inputs[run.target.mask]
  if (image !== null && output !== null && typeof mask !== 'string') {
    const sizes = await layerSizes(project)
    const reused = existingRegionLayer(project, run.region, output, (l) => sizes.get(l.id) ?? null)
    if (reused !== null) {
      await controller.addLayer({ op: run.op, params: run.params, inputs: { ...run.inputs, [image]: reused.id }, placement: regionPlacement(run.region, output) })
      return
    }
  }
  // The server takes the region (and cuts the mask) at the size the model's family generates
  // best at, then adds the layer made from them.
  const model = String(run.params[run.target.model] ?? '')
  await controller.generateInRegion({ ...run.region, op: run.op, model, ...(typeof mask === 'string' ? { mask } : {}), generate: { params: run.params, inputs: run.inputs } })
}
