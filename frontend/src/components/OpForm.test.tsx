import { act, cleanup, fireEvent, screen } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '../api/client'
import type { Layer, OpInfo } from '../api/types'
import type { Api } from '../state/controller'
import { renderWith, testController } from '../test/render'
import { storyProject } from '../test/fixtures'
import { schemas } from '../test/schemas'
import { OpForm } from './OpForm'

const dream: OpInfo = {
  name: 'dream', title: 'Dream', version: '1', category: 'generate', description: '', deterministic: true,
  source: null, remote: false, service: null, extension: 'builtin', overrides: null, schema: schemas.dream,
}

const canny: OpInfo = {
  ...dream,
  name: 'controlnet_canny',
  title: 'ControlNet (Canny)',
  schema: {
    type: 'object',
    required: ['image'],
    properties: {
      image: { type: 'string', title: 'Image', 'x-opendream-layer': 'image' },
      image_is_edge_map: { type: 'boolean', default: false, 'x-opendream-made-by': { input: 'image', op: 'canny_edges' } },
    },
  },
}

function setup(api: Partial<Api>, editing?: Layer, op: OpInfo = dream) {
  const controller = testController({ models: vi.fn(async () => []), loras: vi.fn(async () => []), embeddings: vi.fn(async () => []), ...api })
  controller.store.dispatch({ type: 'project', project: storyProject() })
  const onDone = vi.fn()
  renderWith(controller, <OpForm op={op} onDone={onDone} editing={editing} />)
  return { onDone, controller }
}

afterEach(cleanup)

describe('OpForm', () => {
  it('offers the models available here in a model field, and takes any typed one', async () => {
    const models = vi.fn(async () => [
      { model: 'someone/sdxl', kind: 'hub' as const, family: 'sdxl', variant: 'normal', title: 'SDXL', bytes: 7 * 2 ** 30, defaults: {} },
      { model: '/models/mine.safetensors', kind: 'safetensors' as const, family: 'sd1', variant: 'normal', title: 'Stable Diffusion 1.x', bytes: 2 * 2 ** 20, defaults: {} },
    ])
    await act(async () => {
      setup({ models })
    })
    const field = screen.getByLabelText('Model')
    const options = Array.from(document.querySelectorAll(`#${field.getAttribute('list')} option`))
    expect(options.map((o) => [o.getAttribute('value'), o.getAttribute('label')])).toEqual([
      ['someone/sdxl', 'SDXL · 7.0 GB'],
      ['/models/mine.safetensors', 'Stable Diffusion 1.x · 2 MB'],
    ])
    fireEvent.change(field, { target: { value: 'owner/not-listed' } })
    expect(field).toHaveProperty('value', 'owner/not-listed')
    expect(models).toHaveBeenCalledTimes(1)
  })

  it("sets the picked model's family defaults, not the canvas size, and says so", async () => {
    const flux = {
      model: '/models/flux-test', kind: 'folder' as const, family: 'flux1', variant: 'normal', title: 'Flux.1', bytes: 2 ** 20,
      defaults: { width: 1024, height: 1024, steps: 28, guidance_scale: 3.5, scheduler: 'default' },
    }
    await act(async () => {
      setup({ models: vi.fn(async () => [flux]) })
    })
    const model = screen.getByLabelText('Model')
    fireEvent.change(model, { target: { value: '/models/flux' } }) // typing: no listed model yet
    expect(screen.getByLabelText('Steps')).toHaveProperty('value', '20')
    fireEvent.change(model, { target: { value: '/models/flux-test' } })
    expect(screen.getByLabelText('Steps')).toHaveProperty('value', '28')
    expect(screen.getByLabelText('Guidance Scale')).toHaveProperty('value', '3.5')
    expect((screen.getByLabelText('Scheduler') as HTMLSelectElement).selectedOptions[0].textContent).toBe('default')
    expect(screen.getByLabelText('Width')).toHaveProperty('value', '512')
    expect(screen.getByRole('status').textContent).toBe('Flux.1 defaults applied: steps 28, guidance scale 3.5, scheduler default')
    fireEvent.change(model, { target: { value: 'owner/other' } })
    expect(screen.queryByRole('status')).toBeNull()
    expect(screen.getByLabelText('Steps')).toHaveProperty('value', '28')
  })

  it('shows server validation errors next to their fields', async () => {
    const error = new ApiError(422, 'invalid params for dream', [
      { param: 'seed', message: 'has to be at most 4294967295' },
      { param: 'params.steps', message: 'too many for this model' },
    ])
    const { onDone } = setup({ addLayer: vi.fn(async () => Promise.reject(error)) })
    fireEvent.change(screen.getByLabelText('Prompt'), { target: { value: 'a cat' } })
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Add layer' }))
    })
    expect(screen.getByLabelText('Seed')).toHaveProperty('ariaInvalid', 'true')
    expect(document.getElementById('field-seed-error')?.textContent).toBe('has to be at most 4294967295')
    expect(document.getElementById('field-steps-error')?.textContent).toBe('too many for this model')
    expect(onDone).not.toHaveBeenCalled()
  })

  it('checks required fields before sending', async () => {
    const addLayer = vi.fn()
    setup({ addLayer })
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Add layer' }))
    })
    expect(document.getElementById('field-prompt-error')?.textContent).toBe('is required')
    expect(addLayer).not.toHaveBeenCalled()
  })

  it('sends the recipe, canvas-sized, and closes', async () => {
    const result = { project: { ...storyProject(), revision: 2 }, layers: ['L3'], jobs: [], notes: {}, consent: [] }
    const addLayer = vi.fn(async () => result)
    const { onDone } = setup({ addLayer })
    fireEvent.change(screen.getByLabelText('Prompt'), { target: { value: 'a cat' } })
    fireEvent.click(screen.getByRole('button', { name: 'Random seed' }))
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Add layer' }))
    })
    expect(addLayer).toHaveBeenCalledWith('p1', {
      op: 'dream',
      inputs: {},
      params: expect.objectContaining({ prompt: 'a cat', width: 512, height: 512, seed: expect.any(Number) }),
    })
    expect(onDone).toHaveBeenCalled()
  })

  it('closes the edit of a layer deleted elsewhere (another tab, an undo) with a notice', () => {
    const beach = storyProject().layers[0]
    const patchLayer = vi.fn()
    const { onDone, controller } = setup({ patchLayer }, beach)
    expect(screen.getByRole('form', { name: 'Edit “beach”' })).toBeTruthy()
    act(() => controller.store.dispatch({ type: 'event', event: { type: 'layer.changed', project: 'p1', revision: 5, layers: [] } }))
    expect(onDone).not.toHaveBeenCalled() // another change: the form stays
    act(() => controller.store.dispatch({ type: 'event', event: { type: 'layer.changed', project: 'p1', revision: 6, deleted: ['L1', 'L3'] } }))
    expect(onDone).toHaveBeenCalledTimes(1)
    expect(controller.state.notices.map((n) => [n.kind, n.text])).toEqual([
      ['info', '“beach” was deleted (in another tab, or by an undo): its edit is closed.'],
    ])
    expect(patchLayer).not.toHaveBeenCalled()
  })

  it('adds LoRAs, weights them, removes one, and sends the list', async () => {
    const loras = vi.fn(async () => [
      { model: '/loras/pixel.safetensors', family: 'sd1', title: 'Stable Diffusion 1.x', bytes: 2 ** 20, triggers: ['pixel art'] },
    ])
    const result = { project: { ...storyProject(), revision: 2 }, layers: ['L3'], jobs: [], notes: {}, consent: [] }
    const addLayer = vi.fn(async () => result)
    await act(async () => {
      setup({ addLayer, loras })
    })
    fireEvent.change(screen.getByLabelText('Prompt'), { target: { value: 'a cat' } })
    const add = screen.getByRole('button', { name: 'Add LoRA' })
    fireEvent.click(add)
    const first = screen.getByLabelText('LoRA 1 model')
    expect(document.activeElement).toBe(first) // the keyboard goes on to the new row
    const options = Array.from(document.querySelectorAll(`#${first.getAttribute('list')} option`))
    expect(options.map((o) => [o.getAttribute('value'), o.getAttribute('label')])).toEqual([
      ['/loras/pixel.safetensors', 'Stable Diffusion 1.x · triggers: pixel art'],
    ])
    fireEvent.change(first, { target: { value: '/loras/pixel.safetensors' } })
    expect(screen.getByLabelText('LoRA 1 weight')).toHaveProperty('value', '1')
    fireEvent.click(add)
    fireEvent.change(screen.getByLabelText('LoRA 2 model'), { target: { value: 'owner/style-lora' } })
    fireEvent.change(screen.getByLabelText('LoRA 2 weight'), { target: { value: '0.8' } })
    expect(screen.getByLabelText('LoRA 2 weight slider')).toHaveProperty('value', '0.8')
    fireEvent.change(screen.getByLabelText('LoRA 1 weight slider'), { target: { value: '-1.5' } })
    expect(screen.getByLabelText('LoRA 1 weight')).toHaveProperty('value', '-1.5')
    fireEvent.click(screen.getByRole('button', { name: 'Remove LoRA 1' }))
    expect(document.activeElement).toBe(add)
    expect(screen.getByLabelText('LoRA 1 model')).toHaveProperty('value', 'owner/style-lora')
    expect(screen.queryByLabelText('LoRA 2 model')).toBeNull()
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Add layer' }))
    })
    expect(addLayer).toHaveBeenCalledWith('p1', {
      op: 'dream',
      inputs: {},
      params: expect.objectContaining({ prompt: 'a cat', loras: [{ model: 'owner/style-lora', weight: 0.8 }] }),
    })
  })

  it('refuses a LoRA row without a file, and stops adding at the limit', async () => {
    const addLayer = vi.fn()
    await act(async () => {
      setup({ addLayer })
    })
    fireEvent.change(screen.getByLabelText('Prompt'), { target: { value: 'a cat' } })
    const add = screen.getByRole('button', { name: 'Add LoRA' })
    for (let i = 0; i < 8; i++) fireEvent.click(add)
    expect(add).toHaveProperty('disabled', true)
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Add layer' }))
    })
    expect(document.getElementById('field-loras-error')?.textContent).toBe('LoRA 1: choose a file')
    expect(screen.getByLabelText('LoRA 1 model')).toHaveProperty('ariaInvalid', 'true')
    expect(addLayer).not.toHaveBeenCalled()
  })

  it("flags a LoRA made for another family than the picked model and refuses it before sending", async () => {
    const models = vi.fn(async () => [
      { model: 'someone/sdxl', kind: 'hub' as const, family: 'sdxl', variant: 'normal', title: 'SDXL', bytes: 2 ** 30, defaults: {} },
    ])
    const loras = vi.fn(async () => [
      { model: '/loras/pixel.safetensors', family: 'sd1', title: 'Stable Diffusion 1.x', bytes: 2 ** 20, triggers: [] },
    ])
    const addLayer = vi.fn()
    await act(async () => {
      setup({ addLayer, models, loras })
    })
    fireEvent.change(screen.getByLabelText('Prompt'), { target: { value: 'a cat' } })
    fireEvent.click(screen.getByRole('button', { name: 'Add LoRA' }))
    fireEvent.change(screen.getByLabelText('LoRA 1 model'), { target: { value: '/loras/pixel.safetensors' } })
    expect(screen.getByText('Stable Diffusion 1.x')).toBeTruthy() // its family, next to the row
    expect(screen.queryByText(/made for/)).toBeNull() // the default model: its family is unknown here
    fireEvent.change(screen.getByLabelText('Model'), { target: { value: 'someone/sdxl' } })
    expect(screen.getByText('made for Stable Diffusion 1.x; the model is SDXL')).toBeTruthy()
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Add layer' }))
    })
    expect(document.getElementById('field-loras-error')?.textContent).toBe('LoRA 1: made for Stable Diffusion 1.x; the model is SDXL')
    expect(addLayer).not.toHaveBeenCalled()
    fireEvent.change(screen.getByLabelText('Model'), { target: { value: 'owner/unlisted' } })
    expect(screen.queryByText(/made for/)).toBeNull()
  })

  it("appends a listed LoRA's trigger words the prompt lacks", async () => {
    const loras = vi.fn(async () => [
      { model: '/loras/pixel.safetensors', family: null, title: 'unknown family', bytes: 2 ** 20, triggers: ['pixel art', 'cat'] },
    ])
    await act(async () => {
      setup({ loras })
    })
    const prompt = screen.getByLabelText('Prompt')
    fireEvent.change(prompt, { target: { value: 'a cat' } })
    fireEvent.click(screen.getByRole('button', { name: 'Add LoRA' }))
    expect(screen.queryByRole('button', { name: 'Add LoRA 1 trigger words' })).toBeNull() // no file yet
    fireEvent.change(screen.getByLabelText('LoRA 1 model'), { target: { value: '/loras/pixel.safetensors' } })
    expect(screen.queryByText('unknown family')).toBeNull()
    fireEvent.click(screen.getByRole('button', { name: 'Add LoRA 1 trigger words' }))
    expect(prompt).toHaveProperty('value', 'a cat, pixel art')
  })

  it('offers the embeddings found here under the prompts; one of another family is not pickable', async () => {
    const models = vi.fn(async () => [
      { model: '/models/one.safetensors', kind: 'safetensors' as const, family: 'sd1', variant: 'normal', title: 'Stable Diffusion 1.x', bytes: 2 ** 20, defaults: {} },
    ])
    const embeddings = vi.fn(async () => [
      { model: '/models/bad-hands.safetensors', name: 'bad-hands', family: 'sd1', title: 'Stable Diffusion 1.x', vectors: 2, bytes: 2 ** 12 },
      { model: '/models/xl-style.safetensors', name: 'xl-style', family: 'sdxl', title: 'SDXL', vectors: 1, bytes: 2 ** 12 },
    ])
    await act(async () => {
      setup({ models, embeddings })
    })
    fireEvent.change(screen.getByLabelText('Model'), { target: { value: '/models/one.safetensors' } })
    const negative = screen.getByLabelText('Add an embedding to Negative Prompt')
    const options = Array.from(negative.querySelectorAll('option')).map((o) => [o.textContent, o.disabled])
    expect(options).toEqual([
      ['Add an embedding…', false],
      ['bad-hands · Stable Diffusion 1.x', false],
      ['xl-style · made for SDXL; the model is Stable Diffusion 1.x', true],
    ])
    fireEvent.change(screen.getByLabelText('Negative Prompt'), { target: { value: 'blurry' } })
    fireEvent.change(negative, { target: { value: 'bad-hands' } })
    expect(screen.getByLabelText('Negative Prompt')).toHaveProperty('value', 'blurry, bad-hands')
    expect(negative).toHaveProperty('value', '')
    fireEvent.change(screen.getByLabelText('Add an embedding to Prompt'), { target: { value: 'bad-hands' } })
    expect(screen.getByLabelText('Prompt')).toHaveProperty('value', 'bad-hands')
    expect(embeddings).toHaveBeenCalledTimes(1)
  })

  it('offers no embeddings without any, nor under a prompt of an op without a local model', async () => {
    await act(async () => {
      setup({ embeddings: vi.fn(async () => []) })
    })
    expect(screen.queryByLabelText('Add an embedding to Prompt')).toBeNull()
    cleanup()
    const embeddings = vi.fn(async () => [{ model: '/m/a.safetensors', name: 'a', family: null, title: 'unknown family', vectors: 1, bytes: 1 }])
    const remote = { ...dream, name: 'remote', schema: { ...schemas.dream, properties: { prompt: schemas.dream.properties!.prompt } } }
    await act(async () => {
      setup({ embeddings }, undefined, remote)
    })
    expect(screen.getByLabelText('Prompt')).toBeTruthy()
    expect(screen.queryByLabelText('Add an embedding to Prompt')).toBeNull()
    expect(embeddings).not.toHaveBeenCalled()
  })

  it("shows a layer's LoRAs when editing it, and the server's errors about them on the list", async () => {
    const story = storyProject()
    const beach = { ...story.layers[0], recipe: { ...story.layers[0].recipe, params: { prompt: 'a beach', loras: [{ model: '/loras/a.safetensors', weight: 0.6 }] } } }
    const error = new ApiError(422, 'invalid params for dream', [{ param: 'loras.0.weight', message: 'has to be at most 4' }])
    const patchLayer = vi.fn(async () => Promise.reject(error))
    await act(async () => {
      setup({ patchLayer }, beach)
    })
    expect(screen.getByLabelText('LoRA 1 model')).toHaveProperty('value', '/loras/a.safetensors')
    expect(screen.getByLabelText('LoRA 1 weight')).toHaveProperty('value', '0.6')
    expect(document.activeElement).not.toBe(screen.getByLabelText('LoRA 1 model'))
    fireEvent.change(screen.getByLabelText('LoRA 1 weight'), { target: { value: '0.9' } })
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Apply' }))
    })
    expect(patchLayer).toHaveBeenCalledWith('p1', 'L1', {
      params: expect.objectContaining({ loras: [{ model: '/loras/a.safetensors', weight: 0.9 }] }),
      inputs: {},
    })
    expect(document.getElementById('field-loras-error')?.textContent).toBe('LoRA 1 weight: has to be at most 4')
    expect(screen.queryByText('invalid params for dream')).toBeNull() // placed: no form-wide message
  })

  it('ticks "image is edge map" when the picked image is a Canny edges layer', () => {
    const { controller } = setup({}, undefined, canny)
    const edges = { op: 'canny_edges', op_version: '1', params: {}, inputs: { image: 'L1' }, output_index: 0 }
    const story = storyProject()
    const layers = [...story.layers, { ...story.layers[0], id: 'L4', name: 'edges', recipe: edges }]
    act(() => controller.store.dispatch({ type: 'project', project: { ...story, revision: 2, layers } }))
    const box = screen.getByLabelText('Image is edge map') as HTMLInputElement
    expect(box.checked).toBe(false)
    fireEvent.change(screen.getByLabelText('Image'), { target: { value: 'L4' } })
    expect(box.checked).toBe(true)
    fireEvent.change(screen.getByLabelText('Image'), { target: { value: 'L1' } })
    expect(box.checked).toBe(false)
  })
})
