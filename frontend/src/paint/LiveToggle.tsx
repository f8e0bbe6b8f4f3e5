import { useContext, useMemo, useSyncExternalStore } from 'react'
import type { Layer } from '../api/types'
import { useAppState } from '../state/context'
import { upstreamPaint } from './live'
import { PaintContext, type PaintControls } from './usePaint'

/** "Live" on a layer made from a paint layer: while on, each stroke on that paint layer re-runs
 * it after a short pause; shows how long the last update took to appear. Turning it on starts
 * painting the paint layer (the nearest one upstream), unless one of them is being painted. */
export function LiveToggle({ layer }: { layer: Layer }) {
  const controls = useContext(PaintContext)
  const layers = useAppState((s) => s.project?.layers)
  const sources = useMemo(() => upstreamPaint(layers ?? [], layer.id), [layers, layer.id])
  if (controls === null || sources.length === 0) return null
  return <LiveButton controls={controls} layer={layer} sources={sources} />
}

function LiveButton({ controls, layer, sources }: { controls: PaintControls; layer: Layer; sources: string[] }) {
  const { live } = controls
  useSyncExternalStore(live.subscribe, () => live.version)
  const on = live.isOn(layer.id)
  const latency = live.latency(layer.id)
  const toggle = () => {
    live.set(layer.id, !on)
    if (!on && (controls.painting === null || !sources.includes(controls.painting))) controls.paint(sources[0])
  }
  return (
    <span className="live-toggle">
      <button
        type="button"
        aria-pressed={on}
        title="Live: re-run this layer a moment after each stroke on its paint layer, so the picture follows the brush (use few steps)"
        onClick={toggle}
      >
        Live
      </button>
      {on && latency !== null && (
        <span className="live-latency" title="From the end of the last stroke to this layer's new pixels on the canvas">
          · {latency.toFixed(2)} s
        </span>
      )}
    </span>
  )
}
