/** Runs the last scheduled task once `delay` ms have passed without another being scheduled (or
 * the wait cancelled): quick strokes in a row make one save, not one each. */
export class Debouncer {
  private readonly delay: number
  private timer: ReturnType<typeof setTimeout> | null = null

  constructor(delay: number) {
    this.delay = delay
  }

  get pending(): boolean {
    return this.timer !== null
  }

  schedule(task: () => void): void {
    this.cancel()
    this.timer = setTimeout(() => {
      this.timer = null
      task()
    }, this.delay)
  }

  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }
}
