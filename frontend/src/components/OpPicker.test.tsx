import { cleanup, fireEvent, screen } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { OpInfo } from '../api/types'
import { renderWith, testController } from '../test/render'
import { schemas } from '../test/schemas'
import { OpPicker } from './OpPicker'

const dream: OpInfo = {
  name: 'dream', title: 'Dream', version: '1', category: 'generate', description: '', deterministic: true,
  source: null, remote: false, service: null, extension: 'builtin', overrides: null, schema: schemas.dream,
}
const inpaint: OpInfo = { ...dream, name: 'inpaint', title: 'Inpaint', category: 'edit' }

function setup() {
  const controller = testController()
  controller.store.dispatch({ type: 'catalog', catalog: { ops: [dream, inpaint], extensions: [] } })
  const onPick = vi.fn()
  renderWith(
    controller,
    <>
      <input aria-label="Elsewhere" />
      <OpPicker onPick={onPick} />
    </>,
  )
  return { onPick, search: screen.getByRole('searchbox', { name: 'Search operations' }) }
}

afterEach(cleanup)

describe('OpPicker', () => {
  it('"/" moves the focus to the search', () => {
    const { search } = setup()
    expect(search.getAttribute('aria-keyshortcuts')).toBe('/')
    const pressed = fireEvent.keyDown(document.body, { key: '/' })
    expect(document.activeElement).toBe(search)
    expect(pressed).toBe(false) // the "/" is not typed into the search
  })

  it('"/" typed in a text field stays there', () => {
    const { search } = setup()
    const elsewhere = screen.getByLabelText('Elsewhere')
    elsewhere.focus()
    expect(fireEvent.keyDown(elsewhere, { key: '/' })).toBe(true)
    expect(document.activeElement).toBe(elsewhere)
    fireEvent.keyDown(document.body, { key: '/', ctrlKey: true })
    expect(document.activeElement).not.toBe(search)
  })

  it('Enter in the search opens the op when exactly one matches', () => {
    const { onPick, search } = setup()
    fireEvent.change(search, { target: { value: 'paint' } })
    fireEvent.keyDown(search, { key: 'Enter' })
    expect(onPick).toHaveBeenCalledWith(inpaint)
  })

  it('Enter does nothing while several ops (or none) match', () => {
    const { onPick, search } = setup()
    fireEvent.keyDown(search, { key: 'Enter' })
    fireEvent.change(search, { target: { value: 'nothing like it' } })
    fireEvent.keyDown(search, { key: 'Enter' })
    expect(onPick).not.toHaveBeenCalled()
  })
})
