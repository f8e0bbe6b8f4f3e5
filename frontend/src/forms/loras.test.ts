import { describe, expect, it } from 'vitest'
import type { LocalLora, LocalModel } from '../api/types'
import {
  loraErrorMessage,
  loraLabel,
  loraMismatch,
  loraRefs,
  loraRows,
  lorasMismatch,
  loraWeight,
  modelFamily,
  newLoraRow,
  withTriggers,
} from './loras'

const weight = { min: -4, max: 4, default: 1, step: 0.05 }

describe('loraWeight', () => {
  it("reads the bounds and default of the item's weight", () => {
    const item = { type: 'object', properties: { weight: { type: 'number', minimum: -2, maximum: 3, default: 0.5 } } }
    expect(loraWeight(item)).toEqual({ min: -2, max: 3, default: 0.5, step: 0.05 })
  })

  it('takes the schema step when it has one', () => {
    expect(loraWeight({ properties: { weight: { multipleOf: 0.1 } } }).step).toBe(0.1)
  })
})

describe('loraRows', () => {
  it("turns a recipe's list into rows, weights as text", () => {
    expect(loraRows([{ model: '/a.safetensors', weight: 0.8 }, { model: 'owner/repo' }], weight)).toEqual([
      { model: '/a.safetensors', weight: '0.8' },
      { model: 'owner/repo', weight: '1' },
    ])
  })

  it('leaves out what is not a LoRA', () => {
    expect(loraRows('x', weight)).toEqual([])
    expect(loraRows([null, 3, { weight: 1 }, { model: 'm', weight: 2 }], weight)).toEqual([{ model: 'm', weight: '2' }])
  })

  it('starts a new row empty at the default weight', () => {
    expect(newLoraRow(weight)).toEqual({ model: '', weight: '1' })
  })
})

describe('loraRefs', () => {
  it('sends each row as {model, weight}, in order', () => {
    const rows = [{ model: ' /a.safetensors ', weight: '0.8' }, { model: 'owner/repo', weight: '-1.5' }]
    expect(loraRefs(rows, weight, 8)).toEqual({
      refs: [{ model: '/a.safetensors', weight: 0.8 }, { model: 'owner/repo', weight: -1.5 }],
    })
    expect(loraRefs([], weight, 8)).toEqual({ refs: [] })
  })

  it('refuses a row without a file, naming it, rather than dropping it', () => {
    expect(loraRefs([{ model: 'a', weight: '1' }, { model: ' ', weight: '1' }], weight)).toEqual({ error: 'LoRA 2: choose a file' })
  })

  it('refuses weights that are no number or out of bounds', () => {
    expect(loraRefs([{ model: 'a', weight: '' }], weight)).toEqual({ error: 'LoRA 1 weight: has to be a number' })
    expect(loraRefs([{ model: 'a', weight: '4.5' }], weight)).toEqual({ error: 'LoRA 1 weight: has to be between -4 and 4' })
  })

  it('refuses more rows than the op takes', () => {
    const rows = Array.from({ length: 3 }, () => ({ model: 'a', weight: '1' }))
    expect(loraRefs(rows, weight, 2)).toEqual({ error: 'has to have at most 2 LoRAs' })
  })
})

describe('loraErrorMessage', () => {
  it('names the row and part a server error is about', () => {
    expect(loraErrorMessage(['0', 'weight'], 'has to be at most 4')).toBe('LoRA 1 weight: has to be at most 4')
    expect(loraErrorMessage(['2'], 'cannot be loaded')).toBe('LoRA 3: cannot be loaded')
    expect(loraErrorMessage([], 'has to have at most 8 items')).toBe('has to have at most 8 items')
  })
})

describe('loraLabel', () => {
  it('shows the family and the trigger words', () => {
    const lora = { model: '/l/a.safetensors', family: 'sdxl', title: 'SDXL', bytes: 10, triggers: ['pixel art', 'px'] }
    expect(loraLabel(lora)).toBe('SDXL · triggers: pixel art, px')
    expect(loraLabel({ ...lora, triggers: [] })).toBe('SDXL')
  })
})

const sd1Lora: LocalLora = { model: '/loras/pixel.safetensors', family: 'sd1', title: 'Stable Diffusion 1.x', bytes: 1, triggers: [] }
const unknownLora: LocalLora = { ...sd1Lora, model: '/loras/odd.safetensors', family: null, title: 'unknown family' }
const model = (over: Partial<LocalModel>): LocalModel => ({
  model: 'm', kind: 'hub', family: 'sdxl', variant: 'normal', title: 'SDXL', bytes: 1, defaults: {}, ...over,
})

describe('modelFamily', () => {
  const models = [
    model({ model: 'someone/sdxl-inpaint', variant: 'inpaint', title: 'SDXL (inpaint)' }),
    model({ model: '/models/sd2.safetensors', family: 'sd2', title: 'Stable Diffusion 2.x' }),
    model({ model: '/models/odd.safetensors', family: null, variant: null, title: 'unknown family' }),
  ]

  it("is a listed model's family, titled without its variant", () => {
    expect(modelFamily(models, 'someone/sdxl-inpaint')).toEqual({ family: 'sdxl', title: 'SDXL' })
    expect(modelFamily(models, ' /models/sd2.safetensors ')).toEqual({ family: 'sd2', title: 'Stable Diffusion 2.x' })
  })

  it('is unknown for an unlisted model, an unknown family, or the default model', () => {
    expect(modelFamily(models, 'owner/elsewhere')).toBeNull()
    expect(modelFamily(models, '/models/odd.safetensors')).toBeNull()
    expect(modelFamily(models, '')).toBeNull()
    expect(modelFamily(models, undefined)).toBeNull()
  })
})

describe('loraMismatch', () => {
  const sdxl = { family: 'sdxl', title: 'SDXL' }

  it("says when a LoRA's family differs from the model's", () => {
    expect(loraMismatch(sd1Lora, sdxl)).toBe('made for Stable Diffusion 1.x; the model is SDXL')
    expect(loraMismatch(sd1Lora, { family: 'sd2', title: 'Stable Diffusion 2.x' })).toBe(
      'made for Stable Diffusion 1.x; the model is Stable Diffusion 2.x',
    )
  })

  it('says nothing when they match or either family is unknown', () => {
    expect(loraMismatch(sd1Lora, { family: 'sd1', title: 'Stable Diffusion 1.x' })).toBeNull()
    expect(loraMismatch(unknownLora, sdxl)).toBeNull()
    expect(loraMismatch(undefined, sdxl)).toBeNull()
    expect(loraMismatch(sd1Lora, null)).toBeNull()
  })

  it('names the first row that does not fit', () => {
    const rows = [
      { model: 'owner/repo', weight: '1' },
      { model: '/loras/odd.safetensors', weight: '1' },
      { model: '/loras/pixel.safetensors', weight: '1' },
    ]
    expect(lorasMismatch(rows, [sd1Lora, unknownLora], sdxl)).toBe('LoRA 3: made for Stable Diffusion 1.x; the model is SDXL')
    expect(lorasMismatch(rows, [sd1Lora, unknownLora], null)).toBeNull()
  })
})

describe('withTriggers', () => {
  it('appends the trigger words, comma-separated', () => {
    expect(withTriggers('a cat', ['pixel art', 'retro'])).toBe('a cat, pixel art, retro')
    expect(withTriggers('a cat, ', ['pixel art'])).toBe('a cat, pixel art')
    expect(withTriggers('', ['pixel art'])).toBe('pixel art')
  })

  it('skips words the prompt already has whole, in any case', () => {
    expect(withTriggers('Pixel Art of a cat', ['pixel art', 'cat'])).toBe('Pixel Art of a cat')
    expect(withTriggers('a pixel artist', ['pixel art'])).toBe('a pixel artist, pixel art')
    expect(withTriggers('a cat (1.2)', ['(1.2)'])).toBe('a cat (1.2)')
  })
})
