import { describe, expect, it } from 'vitest'
import { layer } from '../test/fixtures'
import { previewSize } from './preview'

const canvas = { width: 512, height: 512 }

describe('previewSize', () => {
  it('is the size the recipe asks for', () => {
    const dream = layer('L1', { recipe: { op: 'dream', op_version: '1', params: { width: 768, height: 512 }, inputs: {}, output_index: 0 } })
    expect(previewSize(dream, canvas, { width: 64, height: 64 })).toEqual({ width: 768, height: 512 })
  })

  it('is the size of the last result, else the canvas, for recipes without a size', () => {
    const inpaint = layer('L3', { recipe: { op: 'mask_and_inpaint', op_version: '1', params: { width: null }, inputs: {}, output_index: 0 } })
    expect(previewSize(inpaint, canvas, { width: 300, height: 200 })).toEqual({ width: 300, height: 200 })
    expect(previewSize(inpaint, canvas, null)).toEqual(canvas)
  })
})
