import { describe, expect, it } from 'vitest'
import type { JsonSchema } from '../api/types'
import { formFields, initialValues, toRequest } from './schemaForm'

/** The prompt parameters of the sam op's schema (src/opendream/extensions/sam.py). */
const sam: JsonSchema = {
  type: 'object',
  properties: {
    points: { type: 'string', default: '', maxLength: 4000, 'x-opendream-widget': 'points', description: 'clicks' },
    box: { type: 'string', default: '', maxLength: 100, 'x-opendream-widget': 'box' },
    model: { type: 'string', default: '' },
  },
}

describe('fields picked on the canvas', () => {
  it('come from the widget hint, not from the parameter names', () => {
    const fields = formFields(sam)
    expect(fields.map((f) => [f.name, f.kind, f.kind === 'pick' ? f.pick : null])).toEqual([
      ['points', 'pick', 'points'],
      ['box', 'pick', 'box'],
      ['model', 'text', null],
    ])
  })

  it('send their text as it is, within the length limit', () => {
    const fields = formFields(sam)
    const values = { ...initialValues(fields, { layers: [], selected: null }), points: '16,20; 40,44,0', box: '8,12,56,50' }
    expect(toRequest(fields, values).request.params).toEqual({ points: '16,20; 40,44,0', box: '8,12,56,50', model: '' })
    expect(toRequest(fields, { ...values, box: 'x'.repeat(101) }).errors).toEqual({ box: ['has to be at most 100 characters'] })
  })
})
