import { describe, expect, it } from 'vitest'
import { classifyFile, isPng, pngHasWorkflow } from './classify'

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length)
  new DataView(out.buffer).setUint32(0, data.length)
  out.set([...type].map((c) => c.charCodeAt(0)), 4)
  out.set(data, 8)
  return out
}

function png(...chunks: Uint8Array[]): Uint8Array {
  const signature = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  const parts = [signature, ...chunks, chunk('IEND', new Uint8Array())]
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

const text = (s: string) => new TextEncoder().encode(s)
const ihdr = chunk('IHDR', new Uint8Array(13))

describe('pngHasWorkflow', () => {
  it('finds an iTXt chunk keyed opendream', () => {
    expect(pngHasWorkflow(png(ihdr, chunk('iTXt', text('opendream\0\x01\0\0\0xyz'))))).toBe(true)
  })

  it('ignores other text chunks and plain PNGs', () => {
    expect(pngHasWorkflow(png(ihdr, chunk('tEXt', text('parameters\0a cat'))))).toBe(false)
    expect(pngHasWorkflow(png(ihdr, chunk('tEXt', text('opendreams\0x'))))).toBe(false)
    expect(pngHasWorkflow(png(ihdr))).toBe(false)
  })

  it('survives truncated files', () => {
    expect(pngHasWorkflow(png(ihdr).subarray(0, 20))).toBe(false)
    expect(isPng(new Uint8Array([1, 2]))).toBe(false)
  })
})

describe('classifyFile', () => {
  it('opens JSON and workflow PNGs as projects', () => {
    expect(classifyFile('cat.opendream.json', '', new Uint8Array())).toBe('workflow')
    expect(classifyFile('x', 'application/json', new Uint8Array())).toBe('workflow')
    expect(classifyFile('cat.png', 'image/png', png(ihdr, chunk('iTXt', text('opendream\0...'))))).toBe('workflow')
  })

  it('adds pictures as layers', () => {
    expect(classifyFile('photo.png', 'image/png', png(ihdr))).toBe('image')
    expect(classifyFile('photo.JPG', '', new Uint8Array([0xff, 0xd8]))).toBe('image')
    expect(classifyFile('photo', 'image/webp', new Uint8Array())).toBe('image')
  })

  it('refuses anything else', () => {
    expect(classifyFile('notes.txt', 'text/plain', text('hello'))).toBe('unsupported')
  })
})
