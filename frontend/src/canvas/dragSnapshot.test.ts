import { expect, it } from 'vitest'
import type { BlendMode } from '../api/types'
import { snapshotSplit } from './dragSnapshot'

const layers = (blends: BlendMode[]) => blends.map((blend, i) => ({ id: `L${i}`, blend }))

it('draws the layers below a dragged one, and those above it, from pictures', () => {
  expect(snapshotSplit(layers(['normal', 'multiply', 'normal', 'normal']), 'L1')).toEqual({ below: ['L0'], above: ['L2', 'L3'] })
})

it('keeps the layers above live when one of them blends (it mixes with what is under it)', () => {
  expect(snapshotSplit(layers(['normal', 'normal', 'screen', 'normal']), 'L1')).toEqual({ below: ['L0'], above: [] })
})

it('makes no pictures when nothing shown is dragged', () => {
  expect(snapshotSplit(layers(['normal']), null)).toBeNull()
  expect(snapshotSplit(layers(['normal']), 'L9')).toBeNull()
})
