/** Step counts and time left of a running job, from the progress events seen so far. */

export interface StepSample {
  step: number
  /** Milliseconds, on any clock that both samples share. */
  at: number
}

/** Seconds left at the pace between the first sample seen and the latest; null until there is a pace. */
export function secondsLeft(first: StepSample, latest: StepSample, total: number): number | null {
  const steps = latest.step - first.step
  if (steps <= 0 || latest.at <= first.at) return null
  return (((latest.at - first.at) / steps) * Math.max(0, total - latest.step)) / 1000
}

export function formatLeft(seconds: number): string {
  if (seconds < 1) return '< 1 s left'
  const whole = Math.round(seconds)
  if (whole < 60) return `${whole} s left`
  const minutes = Math.floor(whole / 60)
  const rest = whole % 60
  return rest === 0 ? `${minutes} min left` : `${minutes} min ${rest} s left`
}
