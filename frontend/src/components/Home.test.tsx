import { cleanup, screen, within } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import type { ProjectSummary } from '../api/types'
import { renderWith, testController } from '../test/render'
import { Home } from './Home'

const BLOB = 'a'.repeat(64)

function summary(id: string, overrides: Partial<ProjectSummary>): ProjectSummary {
  return {
    id, name: 'cat', revision: 1, created_at: '2026-01-01T00:00:00', updated_at: '2026-01-01T00:00:00',
    width: 512, height: 512, layer_count: 0, thumbnail: null, ...overrides,
  }
}

afterEach(cleanup)

describe('the project list', () => {
  it('shows a thumbnail, the canvas size and the layer count of each project', () => {
    const controller = testController()
    controller.store.dispatch({
      type: 'projects',
      projects: [
        summary('p1', { width: 64, height: 48, layer_count: 3, thumbnail: BLOB }),
        summary('p2', { name: 'cat (2)', layer_count: 1 }),
      ],
    })
    renderWith(controller, <Home />)
    const [first, second] = screen.getAllByRole('listitem')
    expect(within(first).getByText('64×48 · 3 layers')).toBeTruthy()
    expect(within(first).getByRole('img', { name: 'Thumbnail of cat' }).getAttribute('src')).toContain(BLOB)
    expect(within(second).getByText('512×512 · 1 layer')).toBeTruthy()
    expect(within(second).queryByRole('img')).toBeNull()
  })
})
