import { act, cleanup, fireEvent, screen } from '@testing-library/react'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { ApiError } from '../api/client'
import type { CanvasChange } from '../api/types'
import type { Api } from '../state/controller'
import { project, storyProject } from '../test/fixtures'
import { polyfillDialog, renderWith, testController } from '../test/render'
import { CanvasSizeDialog } from './CanvasSizeDialog'

function setup(changeCanvas: (id: string, change: CanvasChange) => Promise<ReturnType<typeof project>>) {
  const controller = testController({ changeCanvas } as Partial<Api>)
  controller.store.dispatch({ type: 'project', project: storyProject() })
  const onClose = vi.fn()
  renderWith(controller, <CanvasSizeDialog project={storyProject()} onClose={onClose} />)
  return { controller, onClose }
}

beforeAll(polyfillDialog)
afterEach(cleanup)

describe('CanvasSizeDialog', () => {
  it('sends the size and the anchor picked, then closes', async () => {
    const changeCanvas = vi.fn(async () => project([], { width: 640, height: 512 }))
    const { controller, onClose } = setup(changeCanvas)
    fireEvent.change(screen.getByLabelText('Width'), { target: { value: '640' } })
    fireEvent.click(screen.getByRole('radio', { name: 'Anchor top left' }))
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Resize canvas' })))
    expect(changeCanvas).toHaveBeenCalledWith('p1', { width: 640, height: 512, anchor: 'top-left' })
    expect(controller.state.project?.width).toBe(640)
    expect(onClose).toHaveBeenCalled()
  })

  it("shows the server's refusal and stays open", async () => {
    const refusal = new ApiError(422, 'invalid request', [{ param: 'width', message: 'Input should be less than or equal to 8192' }])
    const { onClose } = setup(vi.fn(async () => Promise.reject(refusal)))
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Resize canvas' })))
    expect(screen.getByRole('alert').textContent).toBe('invalid request Input should be less than or equal to 8192')
    expect(onClose).not.toHaveBeenCalled()
  })

  it('fits the canvas to the selected layer', async () => {
    const changeCanvas = vi.fn(async () => project())
    const { controller } = setup(changeCanvas)
    expect(screen.getByText('Select a layer to fit the canvas to it.')).toBeTruthy()
    act(() => controller.select('L3'))
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Fit canvas to “cat”' })))
    expect(changeCanvas).toHaveBeenCalledWith('p1', { fit: 'L3' })
  })
})
