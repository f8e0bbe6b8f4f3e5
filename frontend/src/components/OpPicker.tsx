import { type RefObject, useEffect, useMemo, useRef, useState } from 'react'
import type { OpInfo } from '../api/types'
import { groupByCategory, pickableOps, searchOps } from '../ops/catalog'
import { useAppState } from '../state/context'
import { plainText } from '../text/markup'
import { isTyping } from './keys'

interface OpPickerProps {
  onPick: (op: OpInfo) => void
}

/** "/" jumps to the search from anywhere but a text field, as in most tools with a command search. */
function useSearchKey(search: RefObject<HTMLInputElement | null>) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return
      e.preventDefault()
      search.current?.focus()
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [search])
}

export function OpPicker({ onPick }: OpPickerProps) {
  const catalog = useAppState((s) => s.catalog)
  const [query, setQuery] = useState('')
  const search = useRef<HTMLInputElement>(null)
  useSearchKey(search)
  const matches = useMemo(() => searchOps(pickableOps(catalog?.ops ?? []), query), [catalog, query])
  const groups = useMemo(() => groupByCategory(matches), [matches])
  const broken = catalog?.extensions.filter((x) => x.error !== null) ?? []
  return (
    <nav className="op-picker" aria-label="Operations">
      <h2 className="panel-title">Add a layer</h2>
      <input
        ref={search}
        type="search"
        className="op-search"
        placeholder="Search operations ( / )"
        aria-label="Search operations"
        aria-keyshortcuts="/"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        onKeyDown={(e) => {
          // Enter opens the op the search narrowed down to; with several left, it is ambiguous.
          if (e.key === 'Enter' && matches.length === 1) onPick(matches[0])
        }}
      />
      {groups.length === 0 && <p className="hint">No operation matches.</p>}
      {groups.map(([category, ops]) => (
        <section key={category} className="op-group" aria-label={category}>
          <h3>{category}</h3>
          <ul>
            {ops.map((op) => (
              <li key={op.name}>
                <button type="button" className="op-button" title={plainText(op.description)} onClick={() => onPick(op)}>
                  <span className="op-title">{op.title}</span>
                  {op.extension !== null && op.extension !== 'builtin' && <span className="badge">{op.extension}</span>}
                </button>
              </li>
            ))}
          </ul>
        </section>
      ))}
      {broken.length > 0 && (
        <section className="op-group" aria-label="Extensions that failed to load">
          <h3>Extensions with errors</h3>
          {broken.map((x) => (
            <p key={x.name} className="field-error">
              <strong>{x.name}</strong>: {x.error}
            </p>
          ))}
        </section>
      )}
    </nav>
  )
}
