import { useEffect, useState } from 'react'
import type { Project, ReplayReport, WorkflowFile } from '../api/types'
import { useController } from '../state/context'
import { FileButton } from './FileButton'
import { Modal } from './Modal'

const SHOWN_STRING = 120

/** The workflow JSON with long strings (embedded pictures) shortened for reading. */
export function readableWorkflow(workflow: WorkflowFile): string {
  return JSON.stringify(
    workflow,
    (_, value: unknown) =>
      typeof value === 'string' && value.length > SHOWN_STRING ? `${value.slice(0, 60)}… (${value.length} characters)` : value,
    2,
  )
}

interface WorkflowDialogProps {
  project: Project
  onClose: () => void
}

export function WorkflowDialog({ project, onClose }: WorkflowDialogProps) {
  const controller = useController()
  const api = controller.api
  const [workflow, setWorkflow] = useState<WorkflowFile | null>(null)
  const [report, setReport] = useState<ReplayReport | null>(null)
  const [replaying, setReplaying] = useState(false)
  const base = `/api/projects/${encodeURIComponent(project.id)}`

  useEffect(() => {
    void controller.guard(async () => setWorkflow(await api.workflow(project.id, false)))
  }, [controller, api, project.id, project.revision])

  const replay = async (force: boolean) => {
    setReplaying(true)
    setReport((await controller.guard(() => api.replay(project.id, force))) ?? null)
    setReplaying(false)
  }

  return (
    <Modal title="Workflow" onClose={onClose} wide>
      <div className="workflow-actions">
        <a className="button" href={`${base}/workflow`} download>
          Download JSON
        </a>
        <a className="button" href={`${base}/workflow?embed=all`} download>
          Download self-contained
        </a>
        <a className="button" href={`${base}/export.png`} download>
          Download PNG
        </a>
        <FileButton
          accept=".json,application/json,image/png"
          onFile={(file) => {
            onClose()
            void controller.importFile(file, file.name)
          }}
        >
          Load workflow…
        </FileButton>
        <button type="button" disabled={replaying} onClick={() => void replay(false)}>
          Replay
        </button>
        <button type="button" disabled={replaying} onClick={() => void replay(true)} title="Run every layer again, ignoring the cache">
          Replay without cache
        </button>
      </div>
      {replaying && <p role="status">Replaying…</p>}
      {report !== null && <ReplayTable report={report} />}
      <h3>JSON</h3>
      <pre className="workflow-json" tabIndex={0} aria-label="Workflow JSON">
        {workflow === null ? 'Loading…' : readableWorkflow(workflow)}
      </pre>
    </Modal>
  )
}

function ReplayTable({ report }: { report: ReplayReport }) {
  return (
    <>
      <p role="status" className={report.ok ? 'replay-ok' : 'field-error'}>
        {report.ok ? 'Every layer replayed as recorded.' : report.complete ? 'Some layers differ or failed.' : 'Some runs did not finish in time.'}
      </p>
      <table className="replay-table">
        <thead>
          <tr>
            <th scope="col">Layer</th>
            <th scope="col">Op</th>
            <th scope="col">Result</th>
            <th scope="col">Run</th>
          </tr>
        </thead>
        <tbody>
          {report.layers.map((l) => (
            <tr key={l.layer} data-layer={l.layer}>
              <td>
                {l.name} <span className="hint">({l.layer})</span>
              </td>
              <td>{l.op}</td>
              <td className={`replay-${l.result}`} data-result={l.result}>
                {l.result}
                {l.error !== null && <span className="field-error"> {l.error}</span>}
              </td>
              <td>{l.outcome ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  )
}
