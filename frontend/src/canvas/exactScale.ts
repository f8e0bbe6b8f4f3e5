/* Scaled layers' pixels as export.png has them (resample.ts), made in a worker off the main
 * thread and kept by layer, mask, opacity and size: moving a layer, drawing it again or undoing
 * a scale does not make them again. */
import { blankCanvas } from './images'
import type { PixelSize, ResampleJob } from './resample'

/** Resampled pixels kept at most (256 MB of canvases); the least recently used go first. */
const CACHE_PIXELS = 64 * 1024 * 1024

const cache = new Map<string, { canvas: Promise<HTMLCanvasElement>; pixels: number }>()
const waiting = new Map<number, { resolve: (bitmap: ImageBitmap) => void; reject: (error: Error) => void }>()
let worker: Worker | null = null
let nextJob = 0

function startWorker(): Worker {
  const started = new Worker(new URL('./resample.worker.ts', import.meta.url), { type: 'module' })
  started.onmessage = ({ data }: MessageEvent<{ id: number; bitmap: ImageBitmap }>) => {
    waiting.get(data.id)?.resolve(data.bitmap)
    waiting.delete(data.id)
    if (waiting.size === 0) stopWorker() // its copies of the pixels go with it
  }
  started.onerror = (event) => {
    for (const job of waiting.values()) job.reject(new Error(`resampling failed: ${event.message}`))
    waiting.clear()
    stopWorker()
  }
  return started
}

function stopWorker(): void {
  worker?.terminate()
  worker = null
}

function inWorker(job: ResampleJob): Promise<ImageBitmap> {
  worker ??= startWorker()
  const running = worker
  return new Promise((resolve, reject) => {
    waiting.set(job.id, { resolve, reject })
    running.postMessage(job, { transfer: [job.bitmap] })
  })
}

/** The worker's bitmap copied into a canvas held in memory, as the layers' other pixels are. */
async function made(source: CanvasImageSource, to: PixelSize): Promise<HTMLCanvasElement> {
  const bitmap = await inWorker({ id: nextJob++, bitmap: await createImageBitmap(source), to })
  const [canvas, context] = blankCanvas(to)
  context.drawImage(bitmap, 0, 0)
  bitmap.close()
  return canvas
}

/** `source` resampled to `to` as the export resizes a scaled layer; `key` names the result (the
 * same key, the same source pixels and size). */
export function exactlyScaled(key: string, source: CanvasImageSource, to: PixelSize): Promise<HTMLCanvasElement> {
  let entry = cache.get(key)
  if (entry === undefined) {
    const added = { canvas: made(source, to), pixels: to.width * to.height }
    added.canvas.catch(() => {
      if (cache.get(key) === added) cache.delete(key) // asked again, it is tried again
    })
    entry = added
  } else {
    cache.delete(key) // re-inserted last: the most recently used
  }
  cache.set(key, entry)
  let total = 0
  for (const kept of cache.values()) total += kept.pixels
  for (const [oldest, kept] of cache) {
    if (total <= CACHE_PIXELS || oldest === key) break
    cache.delete(oldest)
    total -= kept.pixels
  }
  return entry.canvas
}
