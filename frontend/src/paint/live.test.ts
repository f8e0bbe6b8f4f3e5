import { expect, it } from 'vitest'
import type { LayerInput } from '../api/types'
import { layer } from '../test/fixtures'
import { upstreamPaint } from './live'

const made = (id: string, op: string, inputs: Record<string, LayerInput> = {}) =>
  layer(id, { recipe: { op, op_version: '1', params: {}, inputs, output_index: 0 } })

it('finds the paint layers a layer is made from, nearest first, through any input', () => {
  const layers = [
    made('P1', 'paint'),
    made('P2', 'paint'),
    made('I', 'img2img', { image_layer: 'P1' }),
    made('U', 'blend', { image: 'I', extra: ['P2'] }),
    made('D', 'dream'),
  ]
  expect(upstreamPaint(layers, 'I')).toEqual(['P1'])
  expect(upstreamPaint(layers, 'U')).toEqual(['P2', 'P1'])
  expect(upstreamPaint(layers, 'D')).toEqual([])
  expect(upstreamPaint(layers, 'P1')).toEqual([])
})
