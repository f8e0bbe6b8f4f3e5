import { expect, it } from 'vitest'
import { storyProject } from '../test/fixtures'
import { dropPosition, stepPosition } from './order'

const layers = storyProject().layers

it('drops a layer at the position of the target', () => {
  expect(dropPosition(layers, 'L1', 'L3')).toBe(2)
  expect(dropPosition(layers, 'L3', 'L1')).toBe(0)
  expect(dropPosition(layers, 'L2', 'L2')).toBeNull()
  expect(dropPosition(layers, 'nope', 'L2')).toBeNull()
})

it('steps up and down within the stack', () => {
  expect(stepPosition(layers, 'L1', true)).toBe(1)
  expect(stepPosition(layers, 'L1', false)).toBeNull()
  expect(stepPosition(layers, 'L3', true)).toBeNull()
  expect(stepPosition(layers, 'L3', false)).toBe(1)
})
