import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { project } from '../test/fixtures'
import { appReducer, initialState } from './app'
import { pathOfProject, projectOfPath } from './route'
import { Router, type Navigable } from './router'
import { createStore } from './store'

describe('routes', () => {
  it('maps paths to projects and back', () => {
    expect(projectOfPath('/')).toBeNull()
    expect(projectOfPath('/projects/p1')).toBe('p1')
    expect(projectOfPath('/projects/p1/')).toBe('p1')
    expect(projectOfPath('/projects/a%20b')).toBe('a b')
    expect(projectOfPath('/projects/%E0%A4%A')).toBeNull()
    expect(projectOfPath('/projects/p1/layers')).toBeNull()
    expect(projectOfPath('/elsewhere')).toBeNull()
    expect(pathOfProject('a b')).toBe('/projects/a%20b')
    expect(pathOfProject(null)).toBe('/')
  })
})

/** The app's store with a server that has the projects `known`. */
function app(known: string[]): Navigable & { opened: string[] } {
  const store = createStore(appReducer, initialState)
  const opened: string[] = []
  return {
    store,
    opened,
    async openFromUrl(id) {
      opened.push(id)
      await Promise.resolve()
      if (known.includes(id)) store.dispatch({ type: 'project', project: project([], { id, name: `Project ${id}` }) })
      else store.dispatch({ type: 'project.missing', id })
    },
    closeProject() {
      store.dispatch({ type: 'project.closed' })
    },
  }
}

/** Back or Forward in jsdom's real session history; resolves after its popstate. */
function traverse(go: () => void): Promise<void> {
  return new Promise((resolve) => {
    window.addEventListener('popstate', () => setTimeout(resolve, 0), { once: true })
    go()
  })
}

describe('Router', () => {
  let stop: () => void = () => undefined

  beforeEach(() => window.history.replaceState(null, '', '/'))
  afterEach(() => stop())

  it('pushes the URL of the project opened and goes back to the list with Back', async () => {
    const state = app(['p1'])
    stop = new Router(state, window).start()
    await state.openFromUrl('p1')
    expect(window.location.pathname).toBe('/projects/p1')
    expect(document.title).toBe('Project p1 – Opendream')
    await traverse(() => window.history.back())
    expect(window.location.pathname).toBe('/')
    expect(state.store.getState().project).toBeNull()
    expect(document.title).toBe('Opendream')
    await traverse(() => window.history.forward())
    await expect.poll(() => state.store.getState().project?.id).toBe('p1')
  })

  it('opens the project a URL names on start (a reload) and keeps the URL', async () => {
    window.history.replaceState(null, '', '/projects/p2')
    const state = app(['p2'])
    stop = new Router(state, window).start()
    state.store.dispatch({ type: 'projects', projects: [] }) // other news while it loads
    expect(window.location.pathname).toBe('/projects/p2')
    await expect.poll(() => state.store.getState().project?.id).toBe('p2')
    expect(window.location.pathname).toBe('/projects/p2')
    expect(state.opened).toEqual(['p2'])
  })

  it('keeps the URL of a missing project, and closing it goes to the list', async () => {
    window.history.replaceState(null, '', '/projects/nope')
    const state = app([])
    stop = new Router(state, window).start()
    await expect.poll(() => state.store.getState().missingProject).toBe('nope')
    expect(window.location.pathname).toBe('/projects/nope')
    state.closeProject()
    expect(window.location.pathname).toBe('/')
  })

  it('goes to the list when the open project is deleted', async () => {
    const state = app(['p1'])
    stop = new Router(state, window).start()
    await state.openFromUrl('p1')
    state.store.dispatch({ type: 'event', event: { type: 'project.changed', project: 'p1', deleted: true } })
    expect(window.location.pathname).toBe('/')
  })

  it('Back while a reloaded project still loads stays on the list (the late load does not reopen it)', async () => {
    window.history.replaceState(null, '', '/')
    window.history.pushState(null, '', '/projects/p1') // the entry a reload starts on, the list before it
    const state = app(['p1'])
    let arrive: () => void = () => undefined
    const slow = state.openFromUrl
    state.openFromUrl = (id) => new Promise<void>((resolve) => (arrive = resolve)).then(() => slow(id))
    stop = new Router(state, window).start()
    await traverse(() => window.history.back())
    expect(window.location.pathname).toBe('/')
    arrive()
    await expect.poll(() => state.opened).toEqual(['p1'])
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(state.store.getState().project).toBeNull()
    expect(window.location.pathname).toBe('/')
  })
})
