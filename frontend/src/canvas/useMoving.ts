import { useCallback, useEffect, useRef, useState } from 'react'
import type { Layer, Placement } from '../api/types'
import { isTyping } from '../components/keys'
import { layerById } from '../state/app'
import { useController } from '../state/context'
import { Nudger, type Nudged } from './nudge'
import { clampPosition, nudgeFor } from './placement'

export interface Moving {
  /** Where a layer shows: where it is being moved to, else its placement. */
  placementOf: (layer: Layer) => Placement
  /** Shows a layer at `placement` until the next draft or commit (a drag in progress). */
  draft: (layer: string, placement: Placement) => void
  /** Saves a layer's new placement (one undo step); it shows there meanwhile, back where it was if refused. */
  commit: (layer: string, placement: Placement, changed: Partial<Placement>) => Promise<void>
  /** Commits a burst of arrow-key nudges now. */
  flush: () => void
  /** The layer shown away from its placement (being dragged or nudged), if any. */
  drafting: string | null
}

const inDialog = (target: EventTarget | null) => target instanceof Element && target.closest('dialog') !== null

/** Placements being changed on the canvas, shown before the server has them; with `nudging`,
 * the arrow keys move the selected layer by 1 px (Shift: 10), a burst as one move. */
export function useMoving(nudging: boolean): Moving {
  const controller = useController()
  const [shown, setShown] = useState<Nudged | null>(null)
  const latest = useRef<Nudged | null>(null)
  const show = useCallback((next: Nudged | null) => {
    latest.current = next
    setShown(next)
  }, [])

  const commit = useCallback(
    async (layer: string, placement: Placement, changed: Partial<Placement>) => {
      show({ layer, placement })
      await controller.patchLayer(layer, { placement: changed })
      if (latest.current?.placement === placement) show(null)
    },
    [controller, show],
  )
  const [nudger] = useState(() => new Nudger((n) => void commit(n.layer, n.placement, { x: n.placement.x, y: n.placement.y })))
  useEffect(() => () => nudger.cancel(), [nudger])

  useEffect(() => {
    if (!nudging) return
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target) || inDialog(e.target)) return
      const step = nudgeFor(e.key, e.shiftKey)
      const { project, selectedLayer } = controller.state
      const layer = layerById(project, selectedLayer)
      if (step === null || project === null || layer === undefined) return
      e.preventDefault()
      const from = latest.current?.layer === layer.id ? latest.current.placement : layer.placement
      const limit = (p: Placement) => ({ ...p, ...clampPosition(p, project) })
      show({ layer: layer.id, placement: nudger.nudge(layer.id, from, step.x, step.y, limit) })
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [controller, nudger, nudging, show])

  return {
    placementOf: (layer) => (shown?.layer === layer.id ? shown.placement : layer.placement),
    draft: (layer, placement) => show({ layer, placement }),
    commit,
    flush: () => nudger.flush(),
    drafting: shown?.layer ?? null,
  }
}
