import { describe, expect, it, vi } from 'vitest'
import { AppController, type Api } from './controller'
import { storyProject } from '../test/fixtures'

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0])

function setup() {
  const uploadImage = vi.fn(async () => ({ project: storyProject(), layers: [], jobs: [] }))
  const events = () => ({ start: () => undefined, stop: () => undefined, cancel: () => false })
  const controller = new AppController({ uploadImage } as unknown as Api, events)
  controller.store.dispatch({ type: 'project', project: storyProject() })
  return { controller, uploadImage }
}

describe('adding a picture', () => {
  it('refuses a text file by name, as a drop does, without asking the server', async () => {
    const { controller, uploadImage } = setup()
    await controller.uploadImage(new File(['just notes'], 'notes.txt', { type: 'text/plain' }))
    expect(controller.state.notices.map((n) => n.text)).toEqual(['“notes.txt”: not a PNG, JPEG or WebP image'])
    expect(uploadImage).not.toHaveBeenCalled()
  })

  it('sends a PNG, even one without an image type', async () => {
    const { controller, uploadImage } = setup()
    await controller.uploadImage(new File([PNG], 'shot', { type: '' }))
    expect(uploadImage).toHaveBeenCalledOnce()
    expect(controller.state.notices).toEqual([])
  })
})
