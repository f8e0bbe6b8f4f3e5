import { useMemo, useState, useSyncExternalStore } from 'react'
import type { JsonSchema } from '../api/types'
import type { Box } from '../canvas/placement'
import { regionTarget, replacedParams, type RegionTarget } from './region'
import { useRegionSelection } from './selection'

const never = () => () => undefined

export type RegionForm =
  | { offered: false; on: false }
  | { offered: true; on: boolean; box: Box; target: RegionTarget; replaced: string[]; setOn: (on: boolean) => void }

/** Whether an op form offers "Generate in region" (a region is drawn, the op generates with a
 * model, and the form adds a layer) and whether it is ticked (by default it is: the region was
 * drawn to be used). */
export function useRegionForm(schema: JsonSchema, adding: boolean): RegionForm {
  const selection = useRegionSelection()
  const box = useSyncExternalStore(selection?.subscribe ?? never, () => selection?.box ?? null)
  const target = useMemo(() => regionTarget(schema), [schema])
  const [on, setOn] = useState(true)
  if (!adding || box === null || target === null) return { offered: false, on: false }
  return { offered: true, on, box, target, replaced: on ? replacedParams(target) : [], setOn }
}
