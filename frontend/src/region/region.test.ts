import { describe, expect, it } from 'vitest'
import { layer, project } from '../test/fixtures'
import { schemas } from '../test/schemas'
import { existingRegionLayer, fitRegion, generationSize, regionComposition, regionFromDrag, regionPlacement, regionTarget, replacedParams } from './region'
import { extendCanvas } from './outpaint'

const canvas = { width: 512, height: 384 }

describe('drawing a region', () => {
  it('snaps a drag to whole pixels inside the canvas, either way round', () => {
    expect(regionFromDrag({ x: 100.4, y: 50.6 }, { x: 10.2, y: 300.7 }, canvas)).toEqual({ x: 10, y: 51, width: 90, height: 250 })
    expect(regionFromDrag({ x: -40, y: -10 }, { x: 600, y: 500 }, canvas)).toEqual({ x: 0, y: 0, width: 512, height: 384 })
  })

  it('makes no region smaller than 8 × 8 on the canvas (a click, a drag outside it)', () => {
    expect(regionFromDrag({ x: 10, y: 10 }, { x: 17, y: 100 }, canvas)).toBeNull()
    expect(regionFromDrag({ x: 600, y: 10 }, { x: 700, y: 100 }, canvas)).toBeNull()
  })

  it('keeps a moved or resized region on the canvas at its size', () => {
    expect(fitRegion({ x: 480.6, y: -20, width: 100, height: 50 }, canvas)).toEqual({ x: 412, y: 0, width: 100, height: 50 })
    expect(fitRegion({ x: 0, y: 0, width: 3.2, height: 900 }, canvas)).toEqual({ x: 0, y: 0, width: 8, height: 384 })
  })
})

describe('generation size', () => {
  // Pairs computed by the server's opendream.core.regions.generation_size(region, native, 16).
  it.each([
    [300, 225, 512, 576, 432],
    [300, 225, 1024, 1152, 864],
    [768, 512, 512, 624, 416],
    [100, 700, 512, 192, 1344],
    [8, 2000, 512, 16, 16],
    [4000, 8, 1024, 2048, 16],
    [512, 512, 512, 512, 512],
    [333, 77, 768, 1728, 400],
  ])('%ix%i at native %i is %ix%i, as the server makes it', (width, height, native, w, h) => {
    expect(generationSize({ width, height }, native)).toEqual({ width: w, height: h })
  })

  it('places the result back over the region with one scale', () => {
    expect(regionPlacement({ x: 10, y: 20, width: 300, height: 225 }, { width: 576, height: 432 })).toEqual({ x: 10, y: 20, scale: 300 / 576 })
  })
})

describe('what a region replaces in a form', () => {
  it('is the image input of an op with a model, or its canvas-sized width and height', () => {
    expect(regionTarget(schemas.mask_and_inpaint)).toEqual({ image: 'image_layer', size: null, model: 'model', mask: 'mask_layer' })
    expect(regionTarget(schemas.dream)).toEqual({ image: null, size: { width: 'width', height: 'height' }, model: 'model', mask: null })
    expect(replacedParams(regionTarget(schemas.dream)!)).toEqual(['width', 'height'])
  })

  it('is nothing for an op without a model', () => {
    expect(regionTarget(schemas.flatten)).toBeNull()
    expect(regionTarget(schemas.feather_mask)).toBeNull()
  })
})

describe('reusing a region layer', () => {
  const region = { x: 100, y: 100, width: 200, height: 150 }
  const output = { width: 592, height: 448 }
  const sizes: Record<string, { width: number; height: number }> = { a: { width: 512, height: 384 }, b: { width: 64, height: 64 } }
  const sizeOf = (l: { id: string }) => sizes[l.id] ?? null
  const a = layer('a')
  const far = layer('b', { placement: { x: 400, y: 300, scale: 1, flip_x: false, flip_y: false } })
  const unrun = layer('c', { kind: 'image' })
  const composition = regionComposition([a, far, unrun], region, sizeOf)
  const taken = layer('r', {
    visible: false,
    recipe: { op: 'canvas_region', op_version: '1', params: { ...region, output_width: 592, output_height: 448, drawn: composition.drawn }, inputs: { layers: composition.layers }, output_index: 0 },
  })

  it('composes from the visible image layers reaching into the region, and those not run yet', () => {
    expect(composition.layers).toEqual(['a', 'c'])
    expect(composition.drawn[0]).toEqual({ x: 0, y: 0, scale: 1, flip_x: false, flip_y: false, opacity: 1, blend: 'normal', mask: -1 })
  })

  it('finds the layer of the same rectangle, size and composition', () => {
    expect(existingRegionLayer(project([a, far, unrun, taken]), region, output, sizeOf)?.id).toBe('r')
  })

  it('takes a new one when a layer moved, another rectangle or size, or it failed', () => {
    const moved = { ...a, placement: { ...a.placement, x: 1 } }
    expect(existingRegionLayer(project([moved, far, unrun, taken]), region, output, sizeOf)).toBeNull()
    expect(existingRegionLayer(project([a, far, unrun, taken]), { ...region, x: 101 }, output, sizeOf)).toBeNull()
    expect(existingRegionLayer(project([a, far, unrun, taken]), region, { width: 576, height: 432 }, sizeOf)).toBeNull()
    expect(existingRegionLayer(project([a, far, unrun, { ...taken, status: 'failed' }]), region, output, sizeOf)).toBeNull()
  })
})

describe('outpaint sides', () => {
  it('grows one side, anchoring the picture on the other', () => {
    expect(extendCanvas({ width: 512, height: 512 }, 'right', 256)).toEqual({ width: 768, height: 512, anchor: 'left' })
    expect(extendCanvas({ width: 512, height: 512 }, 'top', 64)).toEqual({ width: 512, height: 576, anchor: 'bottom' })
    expect(extendCanvas({ width: 512, height: 512 }, 'all', 64)).toEqual({ width: 640, height: 640, anchor: 'center' })
  })
})
