import { useCallback, useEffect, useRef, useState } from 'react'
import { blobUrl } from '../api/client'
import type { Layer, OpInfo, Project } from '../api/types'
import { CanvasView } from '../canvas/CanvasView'
import { loadImage } from '../canvas/images'
import { CanvasPicker, PickerContext } from '../canvas/picker'
import { MaskToolbar } from '../mask/MaskToolbar'
import { MaskPainter } from '../mask/painter'
import { PAINT_OP, sourceOf } from '../ops/catalog'
import { PaintToolbar } from '../paint/PaintToolbar'
import { PaintContext, usePaint } from '../paint/usePaint'
import { OutpaintDialog } from '../region/OutpaintDialog'
import { RegionBar } from '../region/RegionBar'
import { RegionContext, RegionSelection } from '../region/selection'
import { RegionToolButton } from '../region/RegionToolButton'
import { useRegionKeys } from '../region/useRegionKeys'
import { useAppState, useController } from '../state/context'
import { CanvasSizeDialog } from './CanvasSizeDialog'
import { ConsentDialog } from './ConsentDialog'
import { ExtensionsDialog } from './ExtensionsDialog'
import { JobsPanel } from './JobsPanel'
import { LayersPanel } from './LayersPanel'
import { OpForm } from './OpForm'
import { OpPicker } from './OpPicker'
import { isTyping, useToolShortcuts } from './keys'
import { IMAGE_ACCEPT, TopBar } from './TopBar'
import { WorkflowDialog } from './WorkflowDialog'

type Side = { mode: 'picker' } | { mode: 'form'; op: OpInfo; editing?: Layer }

interface MaskSession {
  painter: MaskPainter
  target: Layer | null
}

/** V picks the move tool, H leaves it (Photoshop's move and hand tools), except while typing, in a
 * dialog and while painting a mask. */
function useToolKeys(enabled: boolean, setMoving: (on: boolean) => void) {
  const onKey = useCallback(
    (key: string) => {
      if (key === 'v') setMoving(true)
      else if (key === 'h') setMoving(false)
    },
    [setMoving],
  )
  useToolShortcuts(enabled, onKey)
}

/** Ctrl+Z undoes, Ctrl+Shift+Z (or Ctrl+Y) redoes, except while typing in a field and while
 * painting a mask (where they undo strokes). */
function useHistoryKeys(enabled: boolean) {
  const controller = useController()
  useEffect(() => {
    if (!enabled) return
    const onKey = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey) || isTyping(e.target)) return
      const key = e.key.toLowerCase()
      if (key === 'z' && !e.shiftKey) void controller.undo()
      else if ((key === 'z' && e.shiftKey) || key === 'y') void controller.redo()
      else return
      e.preventDefault()
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [controller, enabled])
}

export function Editor({ project }: { project: Project }) {
  const controller = useController()
  const catalog = useAppState((s) => s.catalog)
  const [side, setSide] = useState<Side>({ mode: 'picker' })
  const [mask, setMask] = useState<MaskSession | null>(null)
  const [dialog, setDialog] = useState<'workflow' | 'extensions' | 'canvas' | 'outpaint' | null>(null)
  const [moving, setMoving] = useState(false)
  const imageInput = useRef<HTMLInputElement>(null)
  const [picker] = useState(() => new CanvasPicker())
  const [region] = useState(() => new RegionSelection())
  const leaveMoveTool = useCallback(() => setMoving(false), [])
  const paint = usePaint(project)
  const painting = mask !== null || paint.session !== null
  useHistoryKeys(!painting)
  useToolKeys(!painting, setMoving)
  useRegionKeys(region, !painting, leaveMoveTool)

  const startMask = async (target: Layer | null) => {
    await paint.done()
    const painter = new MaskPainter(project.width, project.height)
    if (target?.blob != null) {
      const image = await controller.guard(() => loadImage(blobUrl(target.blob!)))
      if (image === undefined) return
      painter.load(image)
    }
    picker.setActive(false)
    setMask({ painter, target })
  }

  const saveMask = async () => {
    if (mask === null) return
    const png = await mask.painter.toPng()
    if (mask.target === null) await controller.uploadMask(png, 'Mask')
    else await controller.replaceAsset(mask.target.id, png, mask.target.name)
    setMask(null)
  }

  const pickOp = (op: OpInfo) => {
    if (op.name === PAINT_OP) void paint.paintNew()
    else if (op.source === 'image') imageInput.current?.click()
    else if (op.source === 'mask') void startMask(null)
    else setSide({ mode: 'form', op })
  }

  const editLayer = (layer: Layer) => {
    if (layer.recipe.op === PAINT_OP) {
      void paint.repaint(layer)
      return
    }
    if (sourceOf(catalog, layer.recipe.op) === 'mask') {
      void startMask(layer)
      return
    }
    const op = catalog?.ops.find((o) => o.name === layer.recipe.op)
    if (op === undefined) controller.notify(`The op “${layer.recipe.op}” is not installed, so this layer cannot be edited.`)
    else setSide({ mode: 'form', op, editing: layer })
  }

  const editingLayer = side.mode === 'form' ? side.editing : undefined
  const editor = (
    <div className="editor">
      <TopBar
        project={project}
        painting={painting}
        moving={moving}
        onMoveTool={() => {
          setMoving(!moving)
          region.setTool(false)
        }}
        regionTool={<RegionToolButton region={region} disabled={painting} onTool={leaveMoveTool} />}
        onCanvasSize={() => setDialog('canvas')}
        onOutpaint={() => setDialog('outpaint')}
        onPaint={() => void paint.paintNew()}
        onPaintMask={() => void startMask(null)}
        onWorkflow={() => setDialog('workflow')}
        onExtensions={() => setDialog('extensions')}
      />
      <aside className="left-panel">
        {side.mode === 'picker' ? (
          <OpPicker onPick={pickOp} />
        ) : (
          <OpForm
            key={`${side.op.name}:${editingLayer?.id ?? 'new'}`}
            op={side.op}
            editing={editingLayer}
            onDone={() => setSide({ mode: 'picker' })}
          />
        )}
        <input
          ref={imageInput}
          type="file"
          accept={IMAGE_ACCEPT}
          hidden
          tabIndex={-1}
          onChange={(e) => {
            const file = e.target.files?.[0]
            e.target.value = ''
            if (file !== undefined) void controller.uploadImage(file)
          }}
        />
      </aside>
      <main className="center-panel" aria-label="Canvas">
        {mask !== null && (
          <MaskToolbar painter={mask.painter} target={mask.target?.name ?? null} onSave={saveMask} onCancel={() => setMask(null)} />
        )}
        <RegionBar region={region} painting={painting} />
        {paint.session !== null && <PaintToolbar key={paint.session.target.id} painter={paint.session.painter} target={paint.session.target.name} onDone={paint.done} />}
        <CanvasView
          project={project}
          painter={mask?.painter ?? paint.session?.painter ?? null}
          repainting={mask?.target?.id ?? paint.session?.target.id ?? null}
          picker={picker}
          moving={moving}
          region={region}
        />
      </main>
      <aside className="right-panel">
        <LayersPanel onEdit={editLayer} />
        <JobsPanel />
      </aside>
      {dialog === 'workflow' && <WorkflowDialog project={project} onClose={() => setDialog(null)} />}
      {dialog === 'extensions' && <ExtensionsDialog onClose={() => setDialog(null)} />}
      {dialog === 'canvas' && <CanvasSizeDialog project={project} onClose={() => setDialog(null)} />}
      {dialog === 'outpaint' && <OutpaintDialog project={project} onClose={() => setDialog(null)} />}
      <ConsentDialog />
    </div>
  )
  return (
    <PickerContext.Provider value={picker}>
      <RegionContext.Provider value={region}>
        <PaintContext.Provider value={paint.controls}>{editor}</PaintContext.Provider>
      </RegionContext.Provider>
    </PickerContext.Provider>
  )
}
