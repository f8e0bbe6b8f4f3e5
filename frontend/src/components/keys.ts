import { useEffect } from 'react'

/** Whether a key press lands in a text field, where shortcuts must not fire. */
export function isTyping(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))
}

/** Calls `onKey` with the lower-cased key of a plain key press (no Ctrl, Meta or Alt) that is
 * not typed into a field or a dialog, while `enabled`: single-letter tool shortcuts. */
export function useToolShortcuts(enabled: boolean, onKey: (key: string) => void): void {
  useEffect(() => {
    if (!enabled) return
    const listener = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return
      if (e.target instanceof Element && e.target.closest('dialog') !== null) return
      onKey(e.key.toLowerCase())
    }
    window.addEventListener('keydown', listener)
    return () => window.removeEventListener('keydown', listener)
  }, [enabled, onKey])
}
