import { expect, it } from 'vitest'
import type { OpInfo } from '../api/types'
import { groupByCategory, pickableOps, searchOps, sourceOf } from './catalog'

const op = (name: string, title: string, category: string, description = ''): OpInfo => ({
  name, title, category, description, version: '1', deterministic: true, source: null, remote: false, service: null, extension: null, overrides: null, schema: {},
})

const ops = [
  op('mask_and_inpaint', 'Mask and inpaint', 'edit', 'Repaint inside a mask'),
  op('dream', 'Dream', 'generate', 'Text to image'),
  op('img2img', 'Image to image', 'edit'),
  op('invert_mask', 'Invert mask', 'mask'),
]

it('searches names, titles, categories and descriptions by every word', () => {
  expect(searchOps(ops, '').length).toBe(4)
  expect(searchOps(ops, 'MASK').map((o) => o.name)).toEqual(['mask_and_inpaint', 'invert_mask'])
  expect(searchOps(ops, 'text image').map((o) => o.name)).toEqual(['dream'])
  expect(searchOps(ops, 'nothing')).toEqual([])
})

it('groups by category, each sorted by title', () => {
  expect(groupByCategory(ops).map(([c, list]) => [c, list.map((o) => o.name)])).toEqual([
    ['edit', ['img2img', 'mask_and_inpaint']],
    ['generate', ['dream']],
    ['mask', ['invert_mask']],
  ])
})

it('knows source ops by what they declare, not by their names', () => {
  const picture = { ...op('upload', 'Upload', 'source'), source: 'image' as const }
  const catalog = { ops: [...ops, picture], extensions: [] }
  expect(sourceOf(catalog, 'upload')).toBe('image')
  expect(sourceOf(catalog, 'mask_and_inpaint')).toBeNull()
  expect(sourceOf(catalog, 'load_image')).toBeNull() // not installed here
  expect(sourceOf(null, 'upload')).toBeNull()
})

it('leaves the ops made by commands (a canvas region) out of the picker', () => {
  const withRegion = [...ops, op('canvas_region', 'Canvas region', 'canvas'), op('empty_area_mask', 'Mask of the empty area', 'mask')]
  expect(pickableOps(withRegion).map((o) => o.name)).toEqual(['mask_and_inpaint', 'dream', 'img2img', 'invert_mask', 'empty_area_mask'])
})
