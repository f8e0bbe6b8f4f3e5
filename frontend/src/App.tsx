import { useEffect, useState, type DragEvent } from 'react'
import { api } from './api/client'
import { Banner } from './components/Banner'
import { Editor } from './components/Editor'
import { Home } from './components/Home'
import { MissingProject } from './components/MissingProject'
import { Notices } from './components/Notices'
import { classifyFile, fileHead, notAPicture } from './files/classify'
import { ControllerContext, useAppState, useController } from './state/context'
import { AppController, browserEvents } from './state/controller'
import { Router } from './state/router'

/** A dropped file: a workflow (JSON or PNG with one) opens as a project, a picture becomes a layer. */
async function openDropped(controller: AppController, file: File): Promise<void> {
  const head = await fileHead(file)
  const kind = classifyFile(file.name, file.type, head)
  if (kind === 'workflow') await controller.importFile(file, file.name)
  else if (kind === 'unsupported') controller.notify(notAPicture(file.name))
  else if (controller.state.project === null) controller.notify('Open or create a project to add a picture to it.')
  else await controller.uploadImage(file)
}

/** The app's page: its content once the server's health is known (see `AppState.started`). */
export function Shell() {
  const controller = useController()
  const started = useAppState((s) => s.started)
  const project = useAppState((s) => s.project)
  const missing = useAppState((s) => s.missingProject)
  const [dropping, setDropping] = useState(false)
  const hasFiles = (e: DragEvent) => e.dataTransfer.types.includes('Files')
  return (
    <div
      className="app"
      onDragOver={(e) => {
        if (!hasFiles(e)) return
        e.preventDefault()
        setDropping(true)
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDropping(false)
      }}
      onDrop={(e) => {
        if (!hasFiles(e)) return
        e.preventDefault()
        setDropping(false)
        for (const file of e.dataTransfer.files) void openDropped(controller, file)
      }}
    >
      <Banner />
      {started &&
        (project !== null ? <Editor project={project} /> : missing !== null ? <MissingProject id={missing} /> : <Home />)}
      <Notices />
      {dropping && (
        <div className="drop-overlay" aria-hidden="true">
          Drop a picture to add it as a layer, or a workflow (.json or exported PNG) to open it
        </div>
      )}
    </div>
  )
}

export function App() {
  const [controller] = useState(() => new AppController(api, browserEvents))
  useEffect(() => {
    void controller.start()
    const stopRouting = new Router(controller, window).start()
    return () => {
      stopRouting()
      controller.stop()
    }
  }, [controller])
  return (
    <ControllerContext.Provider value={controller}>
      <Shell />
    </ControllerContext.Provider>
  )
}
