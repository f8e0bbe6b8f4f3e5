import { useEffect, useState } from 'react'
import type { Api } from '../state/controller'

/** What the server has here to suggest in a form (`models`, `loras`), fetched once when the
 * form `wants` it. Suggestions only: when the call fails the list stays empty and a typed
 * value still goes. */
export function useListing<K extends 'models' | 'loras' | 'embeddings'>(api: Api, key: K, wants: boolean): Awaited<ReturnType<Api[K]>> {
  type Items = Awaited<ReturnType<Api[K]>>
  const [items, setItems] = useState<Items>([] as unknown as Items)
  useEffect(() => {
    if (!wants) return
    let live = true
    ;(api[key]() as Promise<Items>).then(
      (found) => live && setItems(found),
      () => undefined,
    )
    return () => {
      live = false
    }
  }, [api, key, wants])
  return items
}
