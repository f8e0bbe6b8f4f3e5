import { cleanup, screen } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import type { OpInfo, Project } from '../api/types'
import { renderWith, testController } from '../test/render'
import { storyProject } from '../test/fixtures'
import { schemas } from '../test/schemas'
import { OpForm } from './OpForm'

const inpaint: OpInfo = {
  name: 'mask_and_inpaint', title: 'Inpaint', version: '1', category: 'edit', deterministic: true, source: null, remote: false, service: null, extension: 'builtin', overrides: null,
  description: 'Repaints ``image_layer`` where ``mask_layer`` is white. <img src=x onerror=alert(1)>',
  schema: schemas.mask_and_inpaint,
}

function renderForm(op: OpInfo, project: Project) {
  const controller = testController({ models: async () => [], loras: async () => [], embeddings: async () => [] })
  controller.store.dispatch({ type: 'project', project })
  renderWith(controller, <OpForm op={op} onDone={() => undefined} />)
}

afterEach(cleanup)

describe('op descriptions', () => {
  it('show code spans as <code> and any markup as text', () => {
    renderForm(inpaint, storyProject())
    const description = document.querySelector('.op-description')!
    expect([...description.querySelectorAll('code')].map((c) => c.textContent)).toEqual(['image_layer', 'mask_layer'])
    expect(description.textContent).toBe('Repaints image_layer where mask_layer is white. <img src=x onerror=alert(1)>')
    expect(description.querySelector('img')).toBeNull()
  })

  it('ask for "an image layer", with the right article', () => {
    renderForm(inpaint, { ...storyProject(), layers: [] })
    expect(screen.getByLabelText('Image Layer').textContent).toContain('No image layer yet')
    cleanup()
    // Optional, so nothing is preselected and the placeholder shows.
    renderForm({ ...inpaint, schema: { ...schemas.mask_and_inpaint, required: [] } }, storyProject())
    const options = [...screen.getByLabelText('Image Layer').querySelectorAll('option')].map((o) => o.textContent)
    expect(options[0]).toBe('Choose an image layer')
  })
})
