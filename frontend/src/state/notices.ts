import type { Layer, Project, ServerEvent } from '../api/types'

export interface Notice {
  id: number
  kind: 'error' | 'info'
  text: string
  /** The layer a failure notice is about, and the job that failed: it goes once the layer recovers. */
  layer?: string
  job?: string
}

/** Toasts shown at once; older ones give way (they are also in the layer's status and the jobs panel). */
export const MAX_NOTICES = 3

export function addNotice(notices: Notice[], notice: Notice): Notice[] {
  return [...notices, notice].slice(-MAX_NOTICES)
}

const RECOVERED = new Set(['pending', 'running', 'ready'])

function statuses(project: Project | null): Map<string, Layer['status']> {
  return new Map((project?.layers ?? []).map((l) => [l.id, l.status]))
}

/** The notices still worth showing once `next` replaced `prev`: a layer's failure notice goes
 * when the layer is deleted, runs again or is ready again (an undo, a re-run, a cache hit). */
export function pruneNotices(prev: Project | null, next: Project | null, notices: Notice[]): Notice[] {
  if (prev === next || !notices.some((n) => n.layer !== undefined)) return notices
  const before = statuses(prev)
  const after = statuses(next)
  const kept = notices.filter((n) => {
    if (n.layer === undefined || next === null || (prev !== null && prev.id !== next.id)) return true
    const now = after.get(n.layer)
    if (now === undefined) return false
    const was = before.get(n.layer)
    return !(RECOVERED.has(now) && (was === 'failed' || was === 'cancelled'))
  })
  return kept.length === notices.length ? notices : kept
}

/** Drops the failure notices of a layer whose new job (not the failed one) was queued or started. */
export function noticesAfterJobEvent(notices: Notice[], event: ServerEvent): Notice[] {
  if (event.type !== 'job.queued' && event.type !== 'job.started' && event.type !== 'job.completed') return notices
  const { id, layer_id } = event.job
  const kept = notices.filter((n) => !(n.layer === layer_id && n.job !== undefined && n.job !== id))
  return kept.length === notices.length ? notices : kept
}
