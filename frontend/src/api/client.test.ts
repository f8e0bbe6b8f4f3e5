import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError, api, blobUrl, fieldName, paramPath, parseError } from './client'

function respond(status: number, body: unknown, contentType = 'application/json'): Response {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  return new Response(text, { status, headers: { 'Content-Type': contentType } })
}

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('parseError', () => {
  it('reads detail and per-field errors from a 422 body', async () => {
    const error = await parseError(
      respond(422, {
        detail: 'invalid params for dream',
        errors: [
          { param: 'seed', message: 'has to be at least 0' },
          { param: 'params.steps', message: 'too many' },
          { nonsense: true },
        ],
      }),
    )
    expect(error.status).toBe(422)
    expect(error.message).toBe('invalid params for dream')
    expect(error.fieldErrors).toHaveLength(2)
    expect(error.errorsFor('seed')).toEqual(['has to be at least 0'])
    expect(error.errorsFor('steps')).toEqual(['too many'])
  })

  it('falls back to the text or the status for bodies that are not JSON', async () => {
    expect((await parseError(respond(502, 'Bad gateway', 'text/plain'))).message).toBe('Bad gateway')
    expect((await parseError(new Response('', { status: 500, statusText: 'Server Error' }))).message).toBe('500 Server Error')
  })
})

it('names fields without the params/inputs prefix', () => {
  expect(fieldName('inputs.mask_layer')).toBe('mask_layer')
  expect(fieldName('seed')).toBe('seed')
  expect(fieldName('name')).toBe('name')
})

it('names the list a param inside it belongs to, keeping its path', () => {
  expect(fieldName('loras.0.weight')).toBe('loras')
  expect(paramPath('params.loras.0.weight')).toEqual(['loras', '0', 'weight'])
  expect(paramPath('loras')).toEqual(['loras'])
})

describe('api', () => {
  it('sends JSON bodies and parses JSON answers', async () => {
    const fetch = vi.fn(async () => respond(201, { id: 'p1' }))
    vi.stubGlobal('fetch', fetch)
    expect(await api.createProject('Beach', 768, 512)).toEqual({ id: 'p1' })
    expect(fetch).toHaveBeenCalledWith('/api/projects', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'Beach', width: 768, height: 512 }),
    })
  })

  it('uploads files as multipart field `file`', async () => {
    const fetch = vi.fn(async (_url: string, _init: RequestInit) => respond(201, { layers: ['L1'] }))
    vi.stubGlobal('fetch', fetch)
    await api.uploadMask('p1', new Blob(['png']), 'mask.png')
    const [url, init] = fetch.mock.calls[0]
    expect(url).toBe('/api/projects/p1/masks')
    const form = init.body as FormData
    expect((form.get('file') as File).name).toBe('mask.png')
  })

  it('sends a new painting to the paintings route', async () => {
    const fetch = vi.fn(async (_url: string, _init: RequestInit) => respond(201, { layers: ['L1'] }))
    vi.stubGlobal('fetch', fetch)
    await api.uploadPainting('p1', new Blob(['png']), 'Paint')
    const [url, init] = fetch.mock.calls[0]
    expect([url, init.method]).toEqual(['/api/projects/p1/paintings', 'POST'])
    expect((init.body as FormData).get('file')).toBeInstanceOf(File)
  })

  it('asks for a dry run with a query parameter', async () => {
    const fetch = vi.fn(async () => respond(200, { dry_run: true, deleted: ['L1', 'L3'] }))
    vi.stubGlobal('fetch', fetch)
    expect((await api.deleteLayer('p1', 'L1', true)).deleted).toEqual(['L1', 'L3'])
    expect(fetch.mock.calls[0]).toEqual(['/api/projects/p1/layers/L1?dry_run=true', { method: 'DELETE', headers: {} }])
  })

  it('throws ApiError with the server message on failure', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => respond(404, { detail: "no project 'x'" })))
    await expect(api.getProject('x')).rejects.toMatchObject({ name: 'ApiError', status: 404, message: "no project 'x'" })
  })

  it('reports an unreachable server as status 0', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))))
    const error = await api.health().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect((error as ApiError).status).toBe(0)
  })
})

it('builds blob URLs', () => {
  expect(blobUrl('ab'.repeat(32))).toBe(`/api/blobs/${'ab'.repeat(32)}`)
  expect(blobUrl('ab'.repeat(32), true)).toBe(`/api/blobs/${'ab'.repeat(32)}?thumb=1`)
})
