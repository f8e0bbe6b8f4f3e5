import { render } from '@testing-library/react'
import type { ReactElement } from 'react'
import { ControllerContext } from '../state/context'
import { AppController, type Api, type EventsFactory } from '../state/controller'

const noEvents: EventsFactory = () => ({ start: () => undefined, stop: () => undefined, cancel: () => false })

/** A controller on the parts of the API a test stubs, with no WebSocket unless `events` says. */
export function testController(api: Partial<Api> = {}, events: EventsFactory = noEvents): AppController {
  return new AppController(api as Api, events)
}

/** Renders `ui` inside `controller`'s context, as the app does. */
export function renderWith(controller: AppController, ui: ReactElement) {
  return render(<ControllerContext.Provider value={controller}>{ui}</ControllerContext.Provider>)
}

/** jsdom has <dialog> but not its modal methods: call from `beforeAll`. */
export function polyfillDialog(): void {
  HTMLDialogElement.prototype.showModal = function showModal(this: HTMLDialogElement) {
    this.open = true
  }
  HTMLDialogElement.prototype.close = function close(this: HTMLDialogElement) {
    this.open = false
  }
}
