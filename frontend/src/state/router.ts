import type { AppAction, AppState } from './app'
import { pathOfProject, projectOfPath } from './route'
import type { Store } from './store'

/** What the router drives: the controller's store and how it opens and closes projects. */
export interface Navigable {
  readonly store: Store<AppState, AppAction>
  openFromUrl(id: string): Promise<void>
  closeProject(): void
}

interface Browser {
  location: { pathname: string }
  history: { pushState(data: unknown, unused: string, url: string): void }
  document: { title: string }
  addEventListener(type: 'popstate', listener: () => void): void
  removeEventListener(type: 'popstate', listener: () => void): void
}

const TITLE = 'Opendream'

/** Keeps the URL and the open project in step (History API): opening a project pushes its URL,
 * a URL (typed, reloaded, or reached with Back/Forward) opens its project. */
export class Router {
  private readonly app: Navigable
  private readonly browser: Browser
  /** Loads started for a URL and not finished; until they are, the URL stays as it is (a late
   * load must not push the URL of a project the user has gone Back from meanwhile). */
  private loading = 0

  constructor(app: Navigable, browser: Browser) {
    this.app = app
    this.browser = browser
  }

  /** Opens what the URL names and starts following; returns the function that stops. */
  start(): () => void {
    this.follow()
    const unsubscribe = this.app.store.subscribe(() => this.sync())
    const onPop = () => this.follow()
    this.browser.addEventListener('popstate', onPop)
    return () => {
      unsubscribe()
      this.browser.removeEventListener('popstate', onPop)
    }
  }

  /** Shows what the current URL names. */
  private follow(): void {
    const wanted = projectOfPath(this.browser.location.pathname)
    const state = this.app.store.getState()
    if (wanted === null) {
      if (state.project !== null || state.missingProject !== null) this.app.closeProject()
      return
    }
    if (state.project?.id === wanted || state.missingProject === wanted) return
    this.loading++
    void this.app.openFromUrl(wanted).finally(() => {
      this.loading--
      if (this.loading > 0) return
      // Back or Forward while it loaded: what the URL names now wins over what has loaded.
      const shown = this.app.store.getState()
      if (projectOfPath(this.browser.location.pathname) === (shown.project?.id ?? shown.missingProject)) this.sync()
      else this.follow()
    })
  }

  /** Puts the open project's URL in the address bar (a new history entry) and its name in the title. */
  private sync(): void {
    const state = this.app.store.getState()
    this.browser.document.title = state.project === null ? TITLE : `${state.project.name} – ${TITLE}`
    if (this.loading > 0) return
    const path = pathOfProject(state.project?.id ?? state.missingProject)
    if (path !== this.browser.location.pathname) this.browser.history.pushState(null, '', path)
  }
}
