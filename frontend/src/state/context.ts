import { createContext, useContext } from 'react'
import type { AppState } from './app'
import type { AppController } from './controller'
import { useStore } from './store'

export const ControllerContext = createContext<AppController | null>(null)

export function useController(): AppController {
  const controller = useContext(ControllerContext)
  if (controller === null) throw new Error('useController needs a ControllerContext provider')
  return controller
}

/** A slice of the app state; the component re-renders when it changes. */
export function useAppState<T>(select: (state: AppState) => T): T {
  return useStore(useController().store, select)
}
