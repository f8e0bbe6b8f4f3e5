import { useAppState } from '../state/context'

/** Warnings that hold for the whole session: tiny test models, a lost event stream. */
export function Banner() {
  const tiny = useAppState((s) => s.health?.tiny_models === true)
  const connection = useAppState((s) => s.connection)
  return (
    <>
      {tiny && (
        <div className="banner banner-warning" role="status">
          Tiny test models are active — random weights: images are noise.
        </div>
      )}
      {connection === 'closed' && (
        <div className="banner banner-error" role="status">
          Lost the connection to the server; reconnecting…
        </div>
      )}
    </>
  )
}
