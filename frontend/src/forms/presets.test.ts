import { describe, expect, it } from 'vitest'
import type { JsonSchema } from '../api/types'
import { schemas } from '../test/schemas'
import { formPresets, presetHolds } from './presets'
import { formFields, initialValues } from './schemaForm'

describe('formPresets', () => {
  const fields = formFields(schemas.dream)

  it("turns dream's presets into form values and says what they set", () => {
    const presets = formPresets(schemas.dream, fields)
    expect(presets.map((p) => p.title)).toEqual([
      'Fast: 4 steps, LCM (LCM models and LoRAs)',
      'Fast: 4 steps, TCD (TCD LoRAs)',
      'Fast: 4 steps, trailing (Hyper-SD, Lightning)',
      'Turbo / schnell: 4 steps, no guidance',
    ])
    const scheduler = fields.find((f) => f.name === 'scheduler')
    const lcm = scheduler?.kind === 'select' ? String(scheduler.options.findIndex((o) => o.value === 'lcm')) : ''
    expect(presets[0].values).toEqual({ steps: '4', guidance_scale: '1', scheduler: lcm })
    expect(presets[0].hint).toBe('Fast: 4 steps, LCM: steps 4, guidance scale 1, scheduler lcm')
    expect(presets[3].hint).toBe('Turbo / schnell: 4 steps, no guidance: steps 4, guidance scale 0, scheduler default')
  })

  it("skips values the op lacks or the field would not take, and presets left with none", () => {
    const schema: JsonSchema = {
      ...schemas.dream,
      'x-opendream-presets': [
        { title: 'Odd', values: { steps: 500, guidance_scale: 2, scheduler: 'nope', strength: 0.5 } },
        { title: 'Nothing here', values: { strength: 0.5, width: 64 } },
      ],
    }
    expect(formPresets(schema, fields)).toEqual([{ title: 'Odd', values: { guidance_scale: '2' }, hint: 'Odd: guidance scale 2' }])
  })

  it('is empty for an op without presets', () => {
    expect(formPresets(schemas.feather_mask, formFields(schemas.feather_mask))).toEqual([])
  })
})

describe('presetHolds', () => {
  const fields = formFields(schemas.dream)
  const [lcm] = formPresets(schemas.dream, fields)
  const values = { ...initialValues(fields, { layers: [], selected: null }), ...lcm.values }

  it('holds while every value of the preset is in the form', () => {
    expect(presetHolds(lcm, values)).toBe(true)
    expect(presetHolds(lcm, { ...values, prompt: 'a cat', seed: '7' })).toBe(true)
  })

  it('stops holding once one of its fields changes', () => {
    expect(presetHolds(lcm, { ...values, steps: '5' })).toBe(false)
    expect(presetHolds(lcm, initialValues(fields, { layers: [], selected: null }))).toBe(false)
  })
})
