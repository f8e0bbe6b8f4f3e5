import { describe, expect, it } from 'vitest'
import type { JsonSchema, LocalModel } from '../api/types'
import { layer, storyProject } from '../test/fixtures'
import { schemas } from '../test/schemas'
import {
  fieldFor,
  formFields,
  initialValues,
  layerChoices,
  modelDefaults,
  placeError,
  randomSeed,
  tickMadeBy,
  toRequest,
  type FormField,
  type LayerField,
  type LorasField,
  type NumberField,
} from './schemaForm'

function byName(fields: FormField[], name: string): FormField {
  const field = fields.find((f) => f.name === name)
  if (field === undefined) throw new Error(`no field ${name}`)
  return field
}

describe('formFields on real op schemas', () => {
  const dream = formFields(schemas.dream)
  const inpaint = formFields(schemas.mask_and_inpaint)

  it('keeps the schema order', () => {
    expect(dream.map((f) => f.name)).toEqual([
      'prompt', 'negative_prompt', 'width', 'height', 'steps', 'guidance_scale', 'seed', 'scheduler', 'num_images', 'model', 'loras', 'decoder',
    ])
  })

  it('uses a textarea for prompts and a text input for other strings', () => {
    expect(byName(dream, 'prompt')).toMatchObject({ kind: 'textarea', required: true, label: 'Prompt', maxLength: 4000 })
    expect(byName(dream, 'negative_prompt')).toMatchObject({ kind: 'textarea', required: false, default: '' })
    expect(byName(dream, 'model')).toMatchObject({ kind: 'text', default: '' })
  })

  it('uses a slider for bounded numbers with the schema step', () => {
    expect(byName(dream, 'steps')).toMatchObject({ kind: 'slider', integer: true, min: 1, max: 150, step: 1, default: 20 })
    expect(byName(dream, 'width')).toMatchObject({ kind: 'slider', min: 64, max: 2048, step: 8 })
    expect(byName(dream, 'guidance_scale')).toMatchObject({ kind: 'slider', integer: false, min: 0, max: 30, step: 0.1 })
  })

  it('treats an exclusive minimum as a bound that the value may not reach', () => {
    const strength = byName(inpaint, 'strength') as NumberField
    expect(strength).toMatchObject({ kind: 'slider', min: 0, max: 1, exclusiveMin: true, step: 0.01 })
    expect(toRequest([strength], { strength: '0' }).errors).toEqual({ strength: ['has to be more than 0'] })
  })

  it('uses a select for Literal choices', () => {
    const scheduler = byName(dream, 'scheduler')
    expect(scheduler.kind).toBe('select')
    expect(scheduler.kind === 'select' && scheduler.options.map((o) => o.label)).toEqual([
      'euler_a', 'euler', 'dpmpp_2m', 'ddim', 'unipc', 'lcm', 'tcd', 'euler_trailing', 'default',
    ])
  })

  it('gives the seed a seed field, as its schema asks', () => {
    expect(byName(dream, 'seed')).toMatchObject({ kind: 'seed', min: 0, max: 4294967295, default: 42 })
  })

  it('gives layer parameters pickers filtered by kind', () => {
    expect(byName(inpaint, 'mask_layer')).toMatchObject({ kind: 'layer', layerKind: 'mask', required: true })
    expect(byName(inpaint, 'image_layer')).toMatchObject({ kind: 'layer', layerKind: 'image' })
    expect(byName(formFields(schemas.flatten), 'layers')).toMatchObject({ kind: 'layers', layerKind: 'image', maxItems: 64 })
  })

  it("gives the LoRAs list its widget, with the item's weight bounds and the list's limit", () => {
    const loras = byName(dream, 'loras') as LorasField
    expect(loras).toMatchObject({ kind: 'loras', label: 'LoRAs', maxItems: 8, weight: { min: -4, max: 4, default: 1, step: 0.05 } })
  })

  it('leaves asset parameters of source ops out of the form', () => {
    expect(formFields(schemas.load_image)).toEqual([])
  })
})

describe('fieldFor on other schema shapes', () => {
  const root = (properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema => ({
    type: 'object', properties, required,
  })

  it('maps booleans to checkboxes', () => {
    const schema = root({ tile: { type: 'boolean', default: true } })
    expect(fieldFor('tile', schema.properties!.tile, schema)).toMatchObject({ kind: 'checkbox', default: true })
  })

  it('unwraps Optional (anyOf with null) and keeps the outer title and default', () => {
    const schema = root({
      strength: { anyOf: [{ type: 'number', minimum: 0, maximum: 1 }, { type: 'null' }], default: null, title: 'Strength' },
    })
    expect(fieldFor('strength', schema.properties!.strength, schema)).toMatchObject({
      kind: 'slider', nullable: true, default: null, label: 'Strength', min: 0, max: 1,
    })
  })

  it('resolves Enum references and single-value Literals', () => {
    const schema: JsonSchema = {
      type: 'object',
      $defs: { Mode: { enum: ['fast', 'best'], type: 'string', title: 'Mode' } },
      properties: { mode: { $ref: '#/$defs/Mode', default: 'best' }, only: { const: 'x', type: 'string' } },
    }
    expect(fieldFor('mode', schema.properties!.mode, schema)).toMatchObject({ kind: 'select', default: 'best' })
    expect(fieldFor('only', schema.properties!.only, schema)).toMatchObject({ kind: 'select', options: [{ value: 'x', label: 'x' }] })
  })

  it('uses a plain number input for numbers without both bounds', () => {
    const schema = root({ scale: { type: 'number', minimum: 0 } })
    expect(fieldFor('scale', schema.properties!.scale, schema)).toMatchObject({ kind: 'number', min: 0, max: undefined })
  })

  it('uses a textarea for strings marked textarea and humanizes names without a title', () => {
    const schema = root({ story_text: { type: 'string', 'x-opendream-widget': 'textarea' } })
    expect(fieldFor('story_text', schema.properties!.story_text, schema)).toMatchObject({ kind: 'textarea', label: 'Story text' })
  })

  it('gives a seed field to any integer marked seed', () => {
    const schema = root({ noise: { type: 'integer', 'x-opendream-widget': 'seed' } })
    expect(fieldFor('noise', schema.properties!.noise, schema)).toMatchObject({ kind: 'seed', min: 0, max: 4294967295 })
  })

  it('chooses widgets from the schema, never from parameter names', () => {
    const schema = root({ seed: { type: 'integer' }, prompt: { type: 'string' } })
    expect(fieldFor('seed', schema.properties!.seed, schema)).toMatchObject({ kind: 'number' })
    expect(fieldFor('prompt', schema.properties!.prompt, schema)).toMatchObject({ kind: 'text' })
  })

  it('marks layer parameters of kind any and Optional layers', () => {
    const schema = root({ ref: { anyOf: [{ type: 'string', 'x-opendream-layer': 'any' }, { type: 'null' }], default: null } })
    expect(fieldFor('ref', schema.properties!.ref, schema)).toMatchObject({ kind: 'layer', layerKind: 'any', nullable: true })
  })

  it('skips types a form cannot edit', () => {
    const schema = root({ blob: { type: 'object' } })
    expect(fieldFor('blob', schema.properties!.blob, schema)).toBeNull()
  })
})

describe('layer pickers', () => {
  const project = storyProject()
  const inpaint = formFields(schemas.mask_and_inpaint)
  const imageField = byName(inpaint, 'image_layer') as LayerField

  it('offers layers of the right kind, topmost first', () => {
    expect(layerChoices(imageField, project.layers).map((l) => l.id)).toEqual(['L3', 'L1'])
    expect(layerChoices(byName(inpaint, 'mask_layer') as LayerField, project.layers).map((l) => l.id)).toEqual(['L2'])
  })

  it('never offers the edited layer or its descendants (that would be a cycle)', () => {
    expect(layerChoices(imageField, project.layers, 'L3').map((l) => l.id)).toEqual(['L1'])
    expect(layerChoices(imageField, project.layers, 'L1')).toEqual([])
  })
})

describe('initialValues', () => {
  const project = storyProject()

  it('starts from the defaults, required layer pickers on the topmost fitting layer', () => {
    const fields = formFields(schemas.mask_and_inpaint)
    const values = initialValues(fields, { layers: project.layers, selected: null })
    expect(values).toMatchObject({ prompt: '', negative_prompt: '', strength: '1', steps: '20', seed: '42', mask_layer: 'L2', image_layer: 'L3' })
  })

  it('prefers the selected layer when it fits', () => {
    const values = initialValues(formFields(schemas.mask_and_inpaint), { layers: project.layers, selected: 'L1' })
    expect(values.image_layer).toBe('L1')
    expect(values.mask_layer).toBe('L2')
  })

  it('sizes width and height to the canvas when the bounds allow', () => {
    const fields = formFields(schemas.dream)
    expect(initialValues(fields, { layers: [], selected: null, canvas: { width: 768, height: 1024 } })).toMatchObject({
      width: '768',
      height: '1024',
    })
    expect(initialValues(fields, { layers: [], selected: null, canvas: { width: 4096, height: 100 } })).toMatchObject({
      width: '512',
      height: '512',
    })
  })

  it('takes the canvas size only where the schema declares it, whatever the name', () => {
    const schema: JsonSchema = {
      type: 'object',
      properties: {
        width: { type: 'integer', default: 512 },
        tile: { type: 'integer', default: 64, 'x-opendream-canvas': 'height' },
      },
    }
    expect(initialValues(formFields(schema), { layers: [], selected: null, canvas: { width: 768, height: 96 } })).toEqual({
      width: '512',
      tile: '96',
    })
  })

  it('starts from the recipe when editing a layer', () => {
    const fields = formFields(schemas.dream)
    const recipe = { op: 'dream', op_version: '1', params: { prompt: 'a beach', seed: 7, scheduler: 'ddim' }, inputs: {}, output_index: 0 }
    const values = initialValues(fields, { layers: project.layers, selected: null }, recipe)
    expect(values).toMatchObject({ prompt: 'a beach', seed: '7', scheduler: '3', steps: '20', loras: [] })
    const withLoras = { ...recipe, params: { ...recipe.params, loras: [{ model: '/l/a.safetensors', weight: 0.8 }] } }
    expect(initialValues(fields, { layers: project.layers, selected: null }, withLoras).loras).toEqual([{ model: '/l/a.safetensors', weight: '0.8' }])
    const inpaint = initialValues(formFields(schemas.mask_and_inpaint), { layers: project.layers, selected: null }, project.layers[2].recipe)
    expect(inpaint).toMatchObject({ mask_layer: 'L2', image_layer: 'L1' })
  })
})

describe('toRequest', () => {
  const dream = formFields(schemas.dream)
  const project = storyProject()

  it('builds params with typed values and inputs with layer ids', () => {
    const values = { ...initialValues(dream, { layers: [], selected: null }), prompt: 'a cat', seed: '123', scheduler: '1' }
    const { request, errors } = toRequest(dream, values)
    expect(errors).toEqual({})
    expect(request.inputs).toEqual({})
    expect(request.params).toEqual({
      prompt: 'a cat', negative_prompt: '', width: 512, height: 512, steps: 20, guidance_scale: 7.5,
      scheduler: 'euler', seed: 123, num_images: 1, model: '', loras: [], decoder: 'full',
    })
    const inpaint = formFields(schemas.mask_and_inpaint)
    const result = toRequest(inpaint, { ...initialValues(inpaint, { layers: project.layers, selected: null }), prompt: 'x' })
    expect(result.request.inputs).toEqual({ mask_layer: 'L2', image_layer: 'L3' })
  })

  it('reports each bad field by name', () => {
    const values = { ...initialValues(dream, { layers: [], selected: null }), steps: '0', seed: '1.5', width: 'abc' }
    expect(toRequest(dream, values).errors).toEqual({
      prompt: ['is required'],
      steps: ['has to be at least 1'],
      seed: ['has to be a whole number'],
      width: ['has to be a number'],
    })
  })

  it('words every rule as the server does, multiples included', () => {
    const values = { ...initialValues(dream, { layers: [], selected: null }), prompt: 'x', width: '4096', height: '100' }
    expect(toRequest(dream, values).errors).toEqual({ width: ['has to be at most 2048'], height: ['has to be a multiple of 8'] })
    const text = formFields({ type: 'object', properties: { name: { type: 'string', maxLength: 3 } } })
    expect(toRequest(text, { name: 'abcd' }).errors).toEqual({ name: ['has to be at most 3 characters'] })
    const fields = formFields(schemas.flatten)
    const many = Array.from({ length: 65 }, (_, i) => `L${i}`)
    expect(toRequest(fields, { layers: many, background: 'transparent' }).errors).toEqual({ layers: ['has to have at most 64 layers'] })
  })

  it('sends null for empty Optional values and leaves out other empty optional ones', () => {
    const schema: JsonSchema = {
      type: 'object',
      properties: {
        strength: { anyOf: [{ type: 'number' }, { type: 'null' }], default: null },
        count: { type: 'integer', default: 3 },
        ref: { type: 'string', 'x-opendream-layer': 'image' },
      },
    }
    const fields = formFields(schema)
    expect(toRequest(fields, { strength: '', count: '', ref: '' }).request).toEqual({ params: { strength: null }, inputs: {} })
    expect(toRequest(fields, { strength: '', count: '', ref: '' }, true).request).toEqual({
      params: { strength: null, count: null },
      inputs: { ref: null },
    })
  })

  it('checks list pickers for emptiness and size', () => {
    const fields = formFields(schemas.flatten)
    expect(toRequest(fields, { layers: [], background: 'transparent' }).errors).toEqual({ layers: ['is required'] })
    expect(toRequest(fields, { layers: ['L1', 'L3'], background: 'transparent' }).request.inputs).toEqual({ layers: ['L1', 'L3'] })
    expect(toRequest(fields, { layers: ['L1'], background: 'red' }).errors).toEqual({
      background: ['has to match ^(transparent|#[0-9a-fA-F]{6})$'],
    })
  })

  it('refuses a LoRA row without a file, naming the row', () => {
    const values = { ...initialValues(dream, { layers: [], selected: null }), prompt: 'x', loras: [{ model: 'a', weight: '1' }, { model: '', weight: '1' }] }
    expect(toRequest(dream, values).errors).toEqual({ loras: ['LoRA 2: choose a file'] })
  })

  it('round-trips a layer recipe through the form', () => {
    const inpaint = formFields(schemas.mask_and_inpaint)
    const recipe = {
      op: 'mask_and_inpaint', op_version: '1', output_index: 0,
      params: {
        prompt: 'a cat', negative_prompt: '', strength: 0.8, steps: 12, guidance_scale: 7.5, seed: 9, mask_feather: 4,
        scheduler: 'lcm', model: '',
        loras: [{ model: '/loras/style.safetensors', weight: 0.75 }, { model: 'owner/repo', weight: -1 }],
      },
      inputs: { mask_layer: 'L2', image_layer: 'L1' },
    }
    const { request } = toRequest(inpaint, initialValues(inpaint, { layers: project.layers, selected: null }, recipe))
    expect(request).toEqual({ params: recipe.params, inputs: recipe.inputs })
  })
})

describe('randomSeed', () => {
  const seed = formFields(schemas.dream).find((f) => f.name === 'seed') as NumberField

  it('stays within the bounds', () => {
    expect(randomSeed(seed, () => 0)).toBe(0)
    expect(randomSeed(seed, () => 0.999999999999)).toBe(4294967295)
    expect(randomSeed({ ...seed, min: 10, max: 12 }, () => 0.5)).toBe(11)
  })
})

describe('a checkbox that follows the op that made an input', () => {
  // As controlnet_canny declares it: ticked when `image` is a layer made by canny_edges.
  const schema: JsonSchema = {
    type: 'object',
    required: ['image'],
    properties: {
      image: { type: 'string', 'x-opendream-layer': 'image' },
      image_is_edge_map: {
        type: 'boolean',
        default: false,
        'x-opendream-made-by': { input: 'image', op: 'canny_edges' },
      },
    },
  }
  const fields = formFields(schema)
  const edges = { op: 'canny_edges', op_version: '1', params: {}, inputs: { image: 'L1' }, output_index: 0 }
  const layers = [layer('L1'), layer('L2', { recipe: edges })]

  it('is ticked when the picked layer was made by that op, and follows the picker', () => {
    const values = initialValues(fields, { layers, selected: 'L2' })
    expect(values).toEqual({ image: 'L2', image_is_edge_map: true })
    const other = tickMadeBy(fields, { ...values, image: 'L1' }, layers, 'image')
    expect(other.image_is_edge_map).toBe(false)
    expect(tickMadeBy(fields, { ...other, image: 'L2' }, layers, 'image').image_is_edge_map).toBe(true)
    expect(initialValues(fields, { layers, selected: 'L1' }).image_is_edge_map).toBe(false)
  })

  it('keeps what a recipe being edited says, and ignores changes of other fields', () => {
    const recipe = { ...edges, op: 'controlnet_canny', params: { image_is_edge_map: false }, inputs: { image: 'L2' } }
    const values = initialValues(fields, { layers, selected: null }, recipe)
    expect(values.image_is_edge_map).toBe(false)
    expect(tickMadeBy(fields, values, layers, 'image_is_edge_map')).toBe(values)
  })
})

describe('modelDefaults: what picking a model sets', () => {
  const dream = formFields(schemas.dream)
  const flux: LocalModel = {
    model: '/models/flux-test', kind: 'folder', family: 'flux1', variant: 'normal', title: 'Flux.1', bytes: 1,
    defaults: { width: 1024, height: 1024, steps: 28, guidance_scale: 3.5, scheduler: 'default' },
  }

  it("applies the family's steps, guidance and scheduler, saying which", () => {
    const scheduler = byName(dream, 'scheduler')
    const index = scheduler.kind === 'select' ? scheduler.options.findIndex((o) => o.value === 'default') : -1
    expect(modelDefaults(dream, flux)).toEqual({
      values: { steps: '28', guidance_scale: '3.5', scheduler: String(index) },
      hint: 'Flux.1 defaults applied: steps 28, guidance scale 3.5, scheduler default',
    })
  })

  it('leaves the canvas-bound size to the canvas', () => {
    const values = modelDefaults(dream, flux)?.values ?? {}
    expect(Object.keys(values)).not.toContain('width')
    expect(Object.keys(values)).not.toContain('height')
  })

  it('skips values the field does not take, and parameters the op does not have', () => {
    const fields = formFields({
      type: 'object',
      properties: {
        image: { type: 'string', 'x-opendream-layer': 'image' },
        steps: { type: 'integer', minimum: 1, maximum: 20, default: 10 },
        scheduler: { type: 'string', enum: ['unipc', 'ddim'], default: 'unipc' },
      },
    })
    const odd = { ...flux, defaults: { ...flux.defaults, steps: 12, image: 'L1', strength: 0.5 } }
    expect(modelDefaults(fields, odd)).toEqual({ values: { steps: '12' }, hint: 'Flux.1 defaults applied: steps 12' })
    expect(modelDefaults(fields, flux)).toBeNull() // 28 steps is over this op's maximum
  })

  it('changes nothing for a model that is not listed, or of no known family', () => {
    expect(modelDefaults(dream, undefined)).toBeNull()
    expect(modelDefaults(dream, { ...flux, family: null, title: 'unknown family', defaults: {} })).toBeNull()
  })
})

describe('placeError: where a server error shows', () => {
  const dream = formFields(schemas.dream)

  it('puts an error on the field its param names, prefixed or not', () => {
    expect(placeError(dream, 'params.seed', 'too big')).toEqual({ name: 'seed', message: 'too big' })
    expect(placeError(dream, 'steps', 'too many')).toEqual({ name: 'steps', message: 'too many' })
    expect(placeError(dream, 'strength', 'x')).toBeNull()
  })

  it("puts an error inside the LoRAs list on the list, naming the row", () => {
    expect(placeError(dream, 'loras.0.weight', 'has to be at most 4')).toEqual({ name: 'loras', message: 'LoRA 1 weight: has to be at most 4' })
    expect(placeError(dream, 'params.loras.1.model', 'is not a file')).toEqual({ name: 'loras', message: 'LoRA 2 model: is not a file' })
    expect(placeError(dream, 'loras', 'has to have at most 8 items')).toEqual({ name: 'loras', message: 'has to have at most 8 items' })
  })
})
