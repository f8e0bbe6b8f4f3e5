import { act, cleanup, fireEvent, screen } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { OpInfo } from '../api/types'
import { storyProject } from '../test/fixtures'
import { renderWith, testController } from '../test/render'
import { schemas } from '../test/schemas'
import { OpForm } from './OpForm'

const dream: OpInfo = {
  name: 'dream', title: 'Dream', version: '1', category: 'generate', description: '', deterministic: true,
  source: null, remote: false, service: null, extension: 'builtin', overrides: null, schema: schemas.dream,
}

const LCM = 'Fast: 4 steps, LCM (LCM models and LoRAs)'

afterEach(cleanup)

function selectedText(label: string): string | null {
  return (screen.getByLabelText(label) as HTMLSelectElement).selectedOptions[0].textContent
}

function choosePreset(title: string) {
  const select = screen.getByLabelText('Preset') as HTMLSelectElement
  const option = Array.from(select.options).find((o) => o.textContent === title)
  fireEvent.change(select, { target: { value: option?.value } })
}

describe('OpForm presets', () => {
  it('sets the preset values, sends them and no preset, and shows "Custom" once one is changed', async () => {
    const addLayer = vi.fn(async () => ({ project: { ...storyProject(), revision: 2 }, layers: ['L3'], jobs: [], notes: {}, consent: [] }))
    const controller = testController({ models: vi.fn(async () => []), loras: vi.fn(async () => []), embeddings: vi.fn(async () => []), addLayer })
    controller.store.dispatch({ type: 'project', project: storyProject() })
    await act(async () => {
      renderWith(controller, <OpForm op={dream} onDone={() => undefined} />)
    })
    expect(selectedText('Preset')).toBe('Custom')
    expect(screen.queryByRole('status')).toBeNull()

    choosePreset(LCM)
    expect(selectedText('Preset')).toBe(LCM)
    expect(screen.getByLabelText('Steps')).toHaveProperty('value', '4')
    expect(screen.getByLabelText('Guidance Scale')).toHaveProperty('value', '1')
    expect(selectedText('Scheduler')).toBe('lcm')
    expect(screen.getByRole('status').textContent).toBe('Fast: 4 steps, LCM: steps 4, guidance scale 1, scheduler lcm')

    fireEvent.change(screen.getByLabelText('Prompt'), { target: { value: 'a cat' } })
    expect(selectedText('Preset')).toBe(LCM) // another field: the preset still holds
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Add layer' }))
    })
    expect(addLayer).toHaveBeenCalledTimes(1)
    const [, sent] = addLayer.mock.calls[0] as unknown as [string, { params: Record<string, unknown> }]
    expect(sent.params).toMatchObject({ prompt: 'a cat', steps: 4, guidance_scale: 1, scheduler: 'lcm' })
    expect(JSON.stringify(sent)).not.toMatch(/preset|LCM \(/i)

    fireEvent.change(screen.getByLabelText('Steps'), { target: { value: '6' } })
    expect(selectedText('Preset')).toBe('Custom')
    expect(screen.queryByRole('status')).toBeNull()
    expect(selectedText('Scheduler')).toBe('lcm') // the other values stay
  })

  it('has no preset select for an op without presets', async () => {
    const controller = testController({ models: vi.fn(async () => []), loras: vi.fn(async () => []) })
    controller.store.dispatch({ type: 'project', project: storyProject() })
    const plain = { ...dream, name: 'feather_mask', schema: schemas.feather_mask }
    await act(async () => {
      renderWith(controller, <OpForm op={plain} onDone={() => undefined} />)
    })
    expect(screen.queryByLabelText('Preset')).toBeNull()
  })
})
