import { useState, type ReactNode } from 'react'
import type { Project } from '../api/types'
import { useController } from '../state/context'
import { FileButton } from './FileButton'
import { RenameInput } from './Home'

interface TopBarProps {
  project: Project
  painting: boolean
  /** The move tool is on. */
  moving: boolean
  onMoveTool: () => void
  /** The region tool's button, next to the move tool's. */
  regionTool: ReactNode
  onCanvasSize: () => void
  onOutpaint: () => void
  onPaint: () => void
  onPaintMask: () => void
  onWorkflow: () => void
  onExtensions: () => void
}

export const IMAGE_ACCEPT = 'image/png,image/jpeg,image/webp'

export function TopBar({ project, painting, moving, onMoveTool, regionTool, onCanvasSize, onOutpaint, onPaint, onPaintMask, onWorkflow, onExtensions }: TopBarProps) {
  const controller = useController()
  const [renaming, setRenaming] = useState(false)
  return (
    <header className="top-bar">
      <button type="button" onClick={() => controller.closeProject()} title="All projects">
        ◀ Projects
      </button>
      <div className="project-title">
        {renaming ? (
          <RenameInput
            initial={project.name}
            label="Project name"
            onDone={(name) => {
              setRenaming(false)
              if (name !== null && name !== project.name) void controller.renameProject(project.id, name)
            }}
          />
        ) : (
          <button type="button" className="link-button project-name" title="Rename the project" onClick={() => setRenaming(true)}>
            {project.name}
          </button>
        )}
        <span className="hint">
          {project.width} × {project.height}
        </span>
      </div>
      <div className="toolbar" role="toolbar" aria-label="History">
        <button type="button" disabled={!project.can_undo} onClick={() => void controller.undo()} title={`Undo${project.undo_label ? `: ${project.undo_label}` : ''} (Ctrl+Z)`}>
          ↶ Undo
        </button>
        <button type="button" disabled={!project.can_redo} onClick={() => void controller.redo()} title={`Redo${project.redo_label ? `: ${project.redo_label}` : ''} (Ctrl+Shift+Z)`}>
          ↷ Redo
        </button>
      </div>
      <span className="toolbar-spacer" />
      <button
        type="button"
        aria-pressed={moving}
        onClick={onMoveTool}
        disabled={painting}
        title="Move tool (V): click a layer on the canvas to select it, drag the selected layer, scale it by its corners, nudge it with the arrow keys; Space + drag pans. H: back to panning"
      >
        <span aria-hidden="true">✥</span> Move
      </button>
      {regionTool}
      <button type="button" onClick={onCanvasSize} disabled={painting}>
        Canvas size…
      </button>
      <button type="button" onClick={onOutpaint} disabled={painting} title="Enlarge the canvas and paint the new area to continue the picture">
        Outpaint…
      </button>
      <FileButton accept={IMAGE_ACCEPT} onFile={(file) => void controller.uploadImage(file)}>
        Add image…
      </FileButton>
      <button type="button" onClick={onPaint} disabled={painting} title="A new paint layer: paint colour on the canvas">
        Paint
      </button>
      <button type="button" onClick={onPaintMask} disabled={painting}>
        Paint mask
      </button>
      <button type="button" onClick={onWorkflow}>
        Workflow
      </button>
      <button type="button" onClick={onExtensions}>
        Extensions
      </button>
    </header>
  )
}
