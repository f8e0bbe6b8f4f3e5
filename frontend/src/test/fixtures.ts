import type { Job, Layer, Project } from '../api/types'

export function layer(id: string, overrides: Partial<Layer> = {}): Layer {
  return {
    id,
    name: id,
    kind: 'image',
    status: 'ready',
    blob: null,
    visible: true,
    opacity: 1,
    placement: { x: 0, y: 0, scale: 1, flip_x: false, flip_y: false },
    blend: 'normal',
    mask: null,
    group: id,
    recipe: { op: 'dream', op_version: '1', params: {}, inputs: {}, output_index: 0 },
    run: { duration: null, cache_hit: false, environment: null, error: null, job: null },
    ...overrides,
  }
}

export function project(layers: Layer[] = [], overrides: Partial<Project> = {}): Project {
  return {
    id: 'p1',
    name: 'Test',
    width: 512,
    height: 512,
    revision: 1,
    layers,
    can_undo: false,
    can_redo: false,
    undo_label: null,
    redo_label: null,
    ...overrides,
  }
}

export function job(id: string, overrides: Partial<Job> = {}): Job {
  return {
    id,
    project_id: 'p1',
    layer_id: 'L1',
    op: 'dream',
    force: false,
    state: 'queued',
    error: null,
    outcome: null,
    created_at: '2026-01-01T00:00:00',
    started_at: null,
    finished_at: null,
    worker: null,
    node: null,
    ...overrides,
  }
}

/** A dream → (mask) → inpaint project, the shape of the story. */
export function storyProject(): Project {
  return project([
    layer('L1', { name: 'beach' }),
    layer('L2', { name: 'mask', kind: 'mask', visible: false, recipe: { op: 'paint_mask', op_version: '1', params: {}, inputs: {}, output_index: 0 } }),
    layer('L3', {
      name: 'cat',
      recipe: { op: 'mask_and_inpaint', op_version: '1', params: {}, inputs: { mask_layer: 'L2', image_layer: 'L1' }, output_index: 0 },
    }),
  ])
}
