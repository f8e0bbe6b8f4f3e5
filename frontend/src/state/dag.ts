import type { Layer, LayerInput } from '../api/types'

export function inputIds(input: LayerInput): string[] {
  return Array.isArray(input) ? input : [input]
}

/** The ids of the layers made (directly or not) from layer `id`. */
export function descendants(layers: Layer[], id: string): Set<string> {
  const found = new Set<string>()
  let frontier = new Set([id])
  while (frontier.size > 0) {
    const next = new Set<string>()
    for (const layer of layers) {
      if (found.has(layer.id) || layer.id === id) continue
      const parents = Object.values(layer.recipe.inputs).flatMap(inputIds)
      if (parents.some((p) => frontier.has(p))) {
        found.add(layer.id)
        next.add(layer.id)
      }
    }
    frontier = next
  }
  return found
}
