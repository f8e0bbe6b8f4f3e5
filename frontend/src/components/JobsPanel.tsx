import { jobList } from '../state/app'
import { useAppState, useController } from '../state/context'

const MAX_SHOWN = 12

/** The open project's queue: running and queued jobs with progress and cancel, then recent ones. */
export function JobsPanel() {
  const controller = useController()
  const jobs = useAppState((s) => s.jobs)
  const progress = useAppState((s) => s.progress)
  const cancelling = useAppState((s) => s.cancelling)
  const list = jobList(jobs).slice(0, MAX_SHOWN)
  return (
    <section className="jobs-panel" aria-labelledby="jobs-title">
      <h2 id="jobs-title" className="panel-title">
        Jobs
      </h2>
      {list.length === 0 && <p className="hint">Nothing queued.</p>}
      <ul className="job-list">
        {list.map((job) => {
          const p = Object.values(progress).find((x) => x.job === job.id)
          const active = job.state === 'queued' || job.state === 'running'
          const stopping = active && cancelling[job.id] === true
          return (
            <li key={job.id} className={`job job-${job.state}`} data-job={job.id}>
              <span className="job-op">{job.op}</span>
              <span className="hint">{job.layer_id}</span>
              <span className={`status status-${stopping ? 'cancelling' : job.state}`}>
                {stopping ? 'cancelling…' : job.state}
                {job.outcome === 'cached' ? ' (cached)' : ''}
              </span>
              {job.state === 'running' && (
                <progress aria-label={`Progress of job ${job.op}`} max={p?.total ?? 1} value={p?.step ?? undefined} />
              )}
              {active && (
                <button type="button" disabled={stopping} onClick={() => void controller.cancelJob(job.id)}>
                  Cancel
                </button>
              )}
              {job.error !== null && job.state === 'failed' && <p className="field-error">{job.error}</p>}
            </li>
          )
        })}
      </ul>
    </section>
  )
}
