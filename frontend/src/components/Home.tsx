import { useRef, useState, type FormEvent } from 'react'
import { isApiError } from '../state/controller'
import { useAppState, useController } from '../state/context'
import { FileButton } from './FileButton'
import { ProjectThumb, projectFacts } from './ProjectFacts'

const PRESETS = [512, 768, 1024] as const

/** The project list: open, rename, delete; a new project from a size preset; open a workflow file. */
export function Home() {
  const controller = useController()
  const projects = useAppState((s) => s.projects)
  const [renaming, setRenaming] = useState<string | null>(null)
  return (
    <main className="home">
      <section className="home-section" aria-labelledby="new-project">
        <h2 id="new-project">New project</h2>
        <NewProjectForm />
        <p className="hint">
          Or open a workflow (.json) or an exported PNG:{' '}
          <FileButton accept=".json,application/json,image/png" onFile={(f) => void controller.importFile(f, f.name)}>
            Open workflow…
          </FileButton>
        </p>
      </section>
      <section className="home-section" aria-labelledby="projects">
        <h2 id="projects">Projects</h2>
        {projects.length === 0 ? (
          <p className="hint">No projects yet.</p>
        ) : (
          <ul className="project-list">
            {projects.map((p) => (
              <li key={p.id} className="project-row">
                <ProjectThumb project={p} />
                {renaming === p.id ? (
                  <RenameInput
                    initial={p.name}
                    label="Project name"
                    onDone={(name) => {
                      setRenaming(null)
                      if (name !== null && name !== p.name) void controller.renameProject(p.id, name)
                    }}
                  />
                ) : (
                  <button type="button" className="link-button project-open" onClick={() => void controller.openProject(p.id)}>
                    {p.name}
                  </button>
                )}
                <span className="hint project-facts">{projectFacts(p)}</span>
                <span className="hint">{new Date(p.updated_at).toLocaleString()}</span>
                <button type="button" onClick={() => setRenaming(p.id)}>
                  Rename
                </button>
                <button
                  type="button"
                  className="danger"
                  onClick={() => {
                    if (window.confirm(`Delete the project “${p.name}” and all its layers?`)) void controller.deleteProject(p.id)
                  }}
                >
                  Delete
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>
    </main>
  )
}

function NewProjectForm() {
  const controller = useController()
  const [name, setName] = useState('Untitled')
  const [preset, setPreset] = useState<string>('512')
  const [width, setWidth] = useState('512')
  const [height, setHeight] = useState('512')
  const [error, setError] = useState<string | null>(null)

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const size = preset === 'custom' ? [Number(width), Number(height)] : [Number(preset), Number(preset)]
    try {
      await controller.createProject(name.trim() || 'Untitled', size[0], size[1])
      setError(null)
    } catch (err) {
      setError(isApiError(err) ? err.message : String(err))
    }
  }

  return (
    <form className="new-project" onSubmit={(e) => void submit(e)}>
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} maxLength={200} />
      </label>
      <fieldset className="presets">
        <legend>Size</legend>
        {[...PRESETS.map(String), 'custom'].map((p) => (
          <label key={p} className="preset">
            <input type="radio" name="size" value={p} checked={preset === p} onChange={() => setPreset(p)} />
            {p === 'custom' ? 'Custom' : `${p} × ${p}`}
          </label>
        ))}
      </fieldset>
      {preset === 'custom' && (
        <div className="custom-size">
          <label>
            Width
            <input type="number" min={64} max={4096} step={8} value={width} onChange={(e) => setWidth(e.target.value)} />
          </label>
          <label>
            Height
            <input type="number" min={64} max={4096} step={8} value={height} onChange={(e) => setHeight(e.target.value)} />
          </label>
        </div>
      )}
      {error !== null && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" className="primary">
        Create project
      </button>
    </form>
  )
}

interface RenameInputProps {
  initial: string
  label: string
  /** The new name, or null when cancelled (Escape). */
  onDone: (name: string | null) => void
}

/** An input for renaming in place: Enter or leaving the field saves, Escape cancels. */
export function RenameInput({ initial, label, onDone }: RenameInputProps) {
  const [value, setValue] = useState(initial)
  const done = useRef(false)
  const finish = (name: string | null) => {
    if (done.current) return
    done.current = true
    onDone(name === null || name.trim() === '' ? null : name.trim())
  }
  return (
    <input
      className="rename-input"
      aria-label={label}
      autoFocus
      value={value}
      maxLength={200}
      onChange={(e) => setValue(e.target.value)}
      onBlur={() => finish(value)}
      onKeyDown={(e) => {
        if (e.key === 'Enter') finish(value)
        if (e.key === 'Escape') finish(null)
      }}
    />
  )
}
