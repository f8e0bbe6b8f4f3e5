import { useEffect, useState } from 'react'
import { blobUrl } from '../api/client'
import type { Layer } from '../api/types'
import { PAINT_OP, sourceOf } from '../ops/catalog'
import { LiveToggle } from '../paint/LiveToggle'
import { layerById, layerCancelling, type Progress } from '../state/app'
import { useAppState, useController } from '../state/context'
import { dropPosition, stepPosition } from '../state/order'
import { DeleteDialog } from './DeleteDialog'
import { RenameInput } from './Home'
import { typesText } from '../mask/keys'
import { EyeIcon } from './icons'
import { LayerProperties } from './LayerProperties'
import { ProgressLine } from './ProgressLine'

interface LayersPanelProps {
  onEdit: (layer: Layer) => void
}

/** The layer stack, top first, as in Photoshop. */
export function LayersPanel({ onEdit }: LayersPanelProps) {
  const controller = useController()
  const layers = useAppState((s) => s.project?.layers ?? [])
  const catalog = useAppState((s) => s.catalog)
  const selected = useAppState((s) => layerById(s.project, s.selectedLayer))
  const [dragged, setDragged] = useState<string | null>(null)
  const [deleting, setDeleting] = useState<{ layer: Layer; doomed: Layer[] } | null>(null)

  const askDelete = async (layer: Layer) => {
    const ids = await controller.deletePreview(layer.id)
    if (ids === undefined) return
    setDeleting({ layer, doomed: ids.map((id) => layers.find((l) => l.id === id)).filter((l): l is Layer => l !== undefined) })
  }
  useDeleteKey(deleting === null ? askDelete : null)

  const move = (id: string, position: number | null) => {
    if (position !== null) void controller.patchLayer(id, { position })
  }

  return (
    <section className="layers-panel" aria-labelledby="layers-title">
      <h2 id="layers-title" className="panel-title">
        Layers
      </h2>
      {selected !== undefined && <LayerProperties layer={selected} layers={layers} />}
      {layers.length === 0 && <p className="hint">No layers yet: add one from the left, or drop an image here.</p>}
      <ol className="layer-list">
        {[...layers].reverse().map((layer) => (
          <LayerRow
            key={layer.id}
            layer={layer}
            source={layer.recipe.op === PAINT_OP ? 'paint' : sourceOf(catalog, layer.recipe.op)}
            dragging={dragged === layer.id}
            onDragStart={() => setDragged(layer.id)}
            onDragEnd={() => setDragged(null)}
            onDrop={() => {
              if (dragged !== null) move(dragged, dropPosition(layers, dragged, layer.id))
              setDragged(null)
            }}
            onMove={(up) => move(layer.id, stepPosition(layers, layer.id, up))}
            onEdit={() => onEdit(layer)}
            onDelete={() => void askDelete(layer)}
          />
        ))}
      </ol>
      {deleting !== null && (
        <DeleteDialog
          layer={deleting.layer}
          doomed={deleting.doomed}
          onCancel={() => setDeleting(null)}
          onConfirm={() => {
            setDeleting(null)
            void controller.deleteLayer(deleting.layer.id)
          }}
        />
      )}
    </section>
  )
}

/** Delete (or Backspace) asks to delete the selected layer, unless the key goes into a text
 * field or a dialog (the one open may be this very question). */
function useDeleteKey(askDelete: ((layer: Layer) => Promise<void>) | null) {
  const controller = useController()
  useEffect(() => {
    if (askDelete === null) return
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Delete' && e.key !== 'Backspace') return
      if (e.ctrlKey || e.metaKey || e.altKey || typesText(e.target)) return
      if (e.target instanceof Element && e.target.closest('dialog') !== null) return
      const { project, selectedLayer } = controller.state
      const layer = project?.layers.find((l) => l.id === selectedLayer)
      if (layer === undefined) return
      e.preventDefault()
      void askDelete(layer)
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [controller, askDelete])
}

interface LayerRowProps {
  layer: Layer
  /** The layer's op is a source op: its pixels are the user's picture (no form to edit), or a
   * painted mask or colour (repainted). */
  source: 'image' | 'mask' | 'paint' | null
  dragging: boolean
  onDragStart: () => void
  onDragEnd: () => void
  onDrop: () => void
  onMove: (up: boolean) => void
  onEdit: () => void
  onDelete: () => void
}

function LayerRow({ layer, source, dragging, onDragStart, onDragEnd, onDrop, onMove, onEdit, onDelete }: LayerRowProps) {
  const controller = useController()
  const selected = useAppState((s) => s.selectedLayer === layer.id)
  const progress = useAppState((s) => s.progress[layer.id])
  const [renaming, setRenaming] = useState(false)
  const [opacity, setOpacity] = useState<number | null>(null)
  // A press on a control (the opacity slider) must not start a drag of the whole row.
  const [onControl, setOnControl] = useState(false)
  const shownOpacity = opacity ?? Math.round(layer.opacity * 100)

  const commitOpacity = () => {
    if (opacity !== null && opacity / 100 !== layer.opacity) void controller.patchLayer(layer.id, { opacity: opacity / 100 })
    setOpacity(null)
  }

  const classes = ['layer-row', selected ? 'selected' : '', dragging ? 'dragging' : '', layer.visible ? '' : 'hidden-layer']
  return (
    <li
      className={classes.filter(Boolean).join(' ')}
      aria-current={selected ? 'true' : undefined}
      data-layer={layer.id}
      data-blob={layer.blob ?? ''}
      draggable={!renaming && !onControl}
      onPointerDown={(e) => setOnControl(isControl(e.target))}
      onDragStart={(e) => {
        e.dataTransfer.setData('application/x-opendream-layer', layer.id)
        e.dataTransfer.effectAllowed = 'move'
        onDragStart()
      }}
      onDragEnd={onDragEnd}
      onDragOver={(e) => {
        if (e.dataTransfer.types.includes('application/x-opendream-layer')) e.preventDefault()
      }}
      onDrop={(e) => {
        if (!e.dataTransfer.types.includes('application/x-opendream-layer')) return
        e.preventDefault()
        e.stopPropagation()
        onDrop()
      }}
      onClick={() => controller.select(layer.id)}
    >
      <Thumbnail layer={layer} progress={progress} />
      <div className="layer-main">
        <div className="layer-head">
          {renaming ? (
            <RenameInput
              initial={layer.name}
              label="Layer name"
              onDone={(name) => {
                setRenaming(false)
                if (name !== null && name !== layer.name) void controller.patchLayer(layer.id, { name })
              }}
            />
          ) : (
            <button
              type="button"
              className="link-button layer-name"
              title="Select (double-click to rename)"
              onClick={() => controller.select(layer.id)}
              onDoubleClick={() => setRenaming(true)}
            >
              {layer.name}
            </button>
          )}
        </div>
        <LayerStatus layer={layer} progress={progress} />
        <div className="layer-controls" onClick={(e) => e.stopPropagation()}>
          <button
            type="button"
            className="icon-button"
            aria-pressed={layer.visible}
            aria-label={layer.visible ? `Hide ${layer.name}` : `Show ${layer.name}`}
            title={layer.visible ? 'Hide' : 'Show'}
            onClick={() => void controller.patchLayer(layer.id, { visible: !layer.visible })}
          >
            <EyeIcon open={layer.visible} />
          </button>
          <label className="opacity">
            <span className="sr-only">Opacity of {layer.name}</span>
            <input
              type="range"
              min={0}
              max={100}
              value={shownOpacity}
              onChange={(e) => setOpacity(Number(e.target.value))}
              onPointerUp={commitOpacity}
              onKeyUp={commitOpacity}
              onBlur={commitOpacity}
            />
            <span className="opacity-value">{shownOpacity}%</span>
          </label>
        </div>
        <div className="layer-actions" onClick={(e) => e.stopPropagation()}>
          {source !== 'image' && (
            <button type="button" onClick={onEdit}>
              {source === null ? 'Edit' : 'Repaint'}
            </button>
          )}
          <LiveToggle layer={layer} />
          <button type="button" onClick={() => setRenaming(true)}>
            Rename
          </button>
          <button type="button" className="icon-button" aria-label={`Move ${layer.name} up`} onClick={() => onMove(true)}>
            ↑
          </button>
          <button type="button" className="icon-button" aria-label={`Move ${layer.name} down`} onClick={() => onMove(false)}>
            ↓
          </button>
          <button type="button" className="danger" onClick={onDelete}>
            Delete
          </button>
        </div>
      </div>
    </li>
  )
}

function isControl(target: EventTarget): boolean {
  return target instanceof Element && target.closest('input, select, textarea') !== null
}

function Thumbnail({ layer, progress }: { layer: Layer; progress: Progress | undefined }) {
  const src =
    progress?.preview != null
      ? `data:image/jpeg;base64,${progress.preview}`
      : layer.blob !== null
        ? blobUrl(layer.blob, true)
        : null
  return (
    <div className={`thumb thumb-${layer.kind}`}>
      {src !== null ? <img src={src} alt="" draggable={false} /> : <span className="thumb-empty" aria-hidden="true" />}
    </div>
  )
}

const MB = 2 ** 20

function DownloadStatus({ layer, done, total }: { layer: Layer; done: number; total: number }) {
  const label = total > 0 ? `${(done / MB).toFixed(0)} / ${(total / MB).toFixed(0)} MB` : `${(done / MB).toFixed(0)} MB`
  return (
    <span className="layer-download">
      Downloading model… {label}
      <progress aria-label={`Model download for ${layer.name}`} max={total || undefined} value={total ? done : undefined} />
    </span>
  )
}

function LayerStatus({ layer, progress }: { layer: Layer; progress: Progress | undefined }) {
  const cancelling = useAppState((s) => layerCancelling(s, layer.id))
  const mask = useAppState((s) => (layer.mask === null ? undefined : layerById(s.project, layer.mask)))
  return (
    <div className="layer-status">
      <span className="badge" title={`${layer.recipe.op} v${layer.recipe.op_version}`}>
        {layer.recipe.op}
      </span>
      <span className={`status status-${layer.status}`} data-status={layer.status}>
        {layer.status}
        {layer.run.cache_hit && layer.status === 'ready' ? ' (cached)' : ''}
      </span>
      {layer.blend !== 'normal' && <span className="layer-tag" title="Blend mode">{layer.blend}</span>}
      {mask !== undefined && (
        <span className="layer-tag" title="Layer mask">
          mask: {mask.name}
        </span>
      )}
      {cancelling && <span className="layer-cancelling">cancelling…</span>}
      {layer.status === 'running' && progress?.download !== undefined && (
        <DownloadStatus layer={layer} done={progress.download.done} total={progress.download.total} />
      )}
      {layer.status === 'running' && progress?.download === undefined && progress?.status !== undefined && (
        <span className="layer-phase">{progress.status}…</span>
      )}
      {layer.status === 'running' && progress?.download === undefined && progress !== undefined && (
        <ProgressLine progress={progress} />
      )}
      {layer.status === 'running' && progress?.download === undefined && (
        <progress
          aria-label={`Progress of ${layer.name}`}
          max={progress?.total ?? 1}
          value={progress?.step ?? undefined}
        />
      )}
      {layer.status === 'failed' && layer.run.error !== null && <p className="field-error layer-error">{layer.run.error}</p>}
    </div>
  )
}
