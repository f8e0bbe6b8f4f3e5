import { expect, it } from 'vitest'
import { IDENTITY } from '../canvas/placement'
import { toLayer } from './frame'

const size = { width: 100, height: 50 }

it('maps canvas points 1:1 onto a layer at the origin, unscaled', () => {
  expect(toLayer({ x: 12, y: 7 }, IDENTITY, size)).toEqual({ x: 12, y: 7 })
})

it('maps through a moved, scaled and mirrored layer', () => {
  const placement = { x: 10, y: 20, scale: 2, flip_x: false, flip_y: false }
  expect(toLayer({ x: 30, y: 40 }, placement, size)).toEqual({ x: 10, y: 10 })
  expect(toLayer({ x: 30, y: 40 }, { ...placement, flip_x: true, flip_y: true }, size)).toEqual({ x: 90, y: 40 })
})
