import { useEffect, useState } from 'react'
import type { Progress } from '../state/app'
import { formatLeft, secondsLeft, type StepSample } from '../state/eta'

/** "step n/N · 12 s left" for a running layer, the time left from the pace seen so far. */
export function ProgressLine({ progress }: { progress: Progress }) {
  const [first, setFirst] = useState<{ job: string; sample: StepSample } | null>(null)
  const [latest, setLatest] = useState<StepSample | null>(null)
  const { job, step, total } = progress
  useEffect(() => {
    if (total <= 0) return
    const sample = { step, at: performance.now() }
    setLatest(sample)
    setFirst((held) => (held === null || held.job !== job || step < held.sample.step ? { job, sample } : held))
  }, [job, step, total])
  if (total <= 0) return null
  const left = first !== null && latest !== null && first.job === job ? secondsLeft(first.sample, latest, total) : null
  return (
    <span className="layer-progress">
      step {step}/{total}
      {left !== null && ` · ${formatLeft(left)}`}
    </span>
  )
}
