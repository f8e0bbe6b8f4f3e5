/** A mutable object that views watch: `version` goes up on every change (for
 * `useSyncExternalStore(x.subscribe, () => x.version)`). */
export class Versioned {
  version = 0
  private readonly listeners = new Set<() => void>()

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  protected changed(): void {
    this.version += 1
    for (const listener of [...this.listeners]) listener()
  }
}
