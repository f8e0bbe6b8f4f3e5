import type { OpCatalog, OpInfo } from '../api/types'

/** The op of colour painted in the browser: a source op like `load_image`, but its layer is
 * painted (and repainted) on the canvas instead of chosen as a file. */
export const PAINT_OP = 'paint'

/** What a layer made by `op` holds when the op is a source op (the user's picture or painted
 * mask, as the op declares); null for an op that computes its pixels, or one not installed. */
export function sourceOf(catalog: OpCatalog | null | undefined, op: string): OpInfo['source'] {
  return catalog?.ops.find((o) => o.name === op)?.source ?? null
}

/** Categories of ops that commands make, not the op picker (a canvas region is taken by drawing a
 * region and generating in it). */
const MADE_BY_COMMANDS = new Set(['canvas'])

/** The ops a person picks by hand in the op picker. */
export function pickableOps(ops: OpInfo[]): OpInfo[] {
  return ops.filter((op) => !MADE_BY_COMMANDS.has(op.category))
}

/** Ops whose name, title, category or description contain every word of the query. */
export function searchOps(ops: OpInfo[], query: string): OpInfo[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean)
  return ops.filter((op) => {
    const text = `${op.name} ${op.title} ${op.category} ${op.description}`.toLowerCase()
    return words.every((w) => text.includes(w))
  })
}

/** Ops grouped by category, categories and ops sorted by title. */
export function groupByCategory(ops: OpInfo[]): [string, OpInfo[]][] {
  const groups = new Map<string, OpInfo[]>()
  for (const op of ops) groups.set(op.category, [...(groups.get(op.category) ?? []), op])
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([category, list]) => [category, [...list].sort((a, b) => a.title.localeCompare(b.title))])
}
