import { act, cleanup, fireEvent, screen } from '@testing-library/react'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { ApiError } from '../api/client'
import type { LayersQueued, OpInfo, OutpaintCreate } from '../api/types'
import type { Api } from '../state/controller'
import { layer, project } from '../test/fixtures'
import { polyfillDialog, renderWith, testController } from '../test/render'
import { schemas } from '../test/schemas'
import { OutpaintDialog } from './OutpaintDialog'

const inpaint: OpInfo = {
  name: 'mask_and_inpaint', title: 'Mask and inpaint', category: 'edit', description: '', version: '1', deterministic: true,
  source: null, remote: false, service: null, extension: null, overrides: null, schema: schemas.mask_and_inpaint,
}

function setup(outpaint: (id: string, body: OutpaintCreate) => Promise<LayersQueued>) {
  const controller = testController({ outpaint, models: async () => [] } as Partial<Api>)
  const open = project([], { width: 512, height: 512 })
  controller.store.dispatch({ type: 'project', project: open })
  controller.store.dispatch({ type: 'catalog', catalog: { ops: [inpaint], extensions: [] } })
  const onClose = vi.fn()
  renderWith(controller, <OutpaintDialog project={open} onClose={onClose} />)
  return { controller, onClose }
}

beforeAll(polyfillDialog)
afterEach(cleanup)

describe('OutpaintDialog', () => {
  it('adds pixels to a side, anchoring the picture opposite, and sends the fill’s params', async () => {
    const grown = project([layer('L1'), layer('L5')], { width: 768, height: 512 })
    const outpaint = vi.fn(async () => ({ project: grown, layers: ['L2', 'L3', 'L4', 'L5'], jobs: [], notes: {}, consent: [] }))
    const { controller, onClose } = setup(outpaint)
    fireEvent.change(screen.getByLabelText('Pixels to add'), { target: { value: '256' } })
    fireEvent.click(screen.getByRole('button', { name: 'Right' }))
    expect((screen.getByLabelText('Width') as HTMLInputElement).value).toBe('768')
    expect((screen.getByRole('radio', { name: 'Anchor left' }) as HTMLInputElement).checked).toBe(true)
    fireEvent.change(screen.getByLabelText('Prompt'), { target: { value: 'more sea' } })
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Outpaint' })))
    const [id, body] = outpaint.mock.calls[0] as unknown as [string, OutpaintCreate]
    expect(id).toBe('p1')
    expect(body).toMatchObject({ width: 768, height: 512, anchor: 'left', feather: 16, params: { prompt: 'more sea' } })
    expect(controller.state.project?.width).toBe(768)
    expect(controller.state.selectedLayer).toBe('L5')
    expect(onClose).toHaveBeenCalled()
  })

  it('asks for a larger canvas before sending', async () => {
    const outpaint = vi.fn()
    setup(outpaint)
    fireEvent.change(screen.getByLabelText('Prompt'), { target: { value: 'sky' } })
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Outpaint' })))
    expect(screen.getByRole('alert').textContent).toContain('larger than 512 × 512')
    expect(outpaint).not.toHaveBeenCalled()
  })

  it("shows the server's refusal and stays open", async () => {
    const refusal = new ApiError(422, 'invalid request', [{ param: 'width', message: 'Input should be less than or equal to 8192' }])
    const { onClose } = setup(vi.fn(async () => Promise.reject(refusal)))
    fireEvent.change(screen.getByLabelText('Width'), { target: { value: '9000' } })
    fireEvent.change(screen.getByLabelText('Prompt'), { target: { value: 'sky' } })
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Outpaint' })))
    expect(screen.getByRole('alert').textContent).toBe('invalid request Input should be less than or equal to 8192')
    expect(onClose).not.toHaveBeenCalled()
  })
})
