/* Resamples layers off the main thread, pixels read and written there too: a 2048 px layer takes
 * a few hundred milliseconds, which the page would otherwise stall for after each scale change,
 * and the copies it makes would be garbage for the page to collect, in the middle of a drag. */
import { resampleBilinear, type ResampleJob } from './resample'

self.onmessage = ({ data: { id, bitmap, to } }: MessageEvent<ResampleJob>) => {
  const size = { width: bitmap.width, height: bitmap.height }
  const reading = new OffscreenCanvas(size.width, size.height).getContext('2d', { willReadFrequently: true })!
  reading.drawImage(bitmap, 0, 0)
  bitmap.close()
  const pixels = resampleBilinear(reading.getImageData(0, 0, size.width, size.height).data, size, to)
  const writing = new OffscreenCanvas(to.width, to.height)
  writing.getContext('2d')!.putImageData(new ImageData(pixels, to.width, to.height), 0, 0)
  const resampled = writing.transferToImageBitmap()
  self.postMessage({ id, bitmap: resampled }, { transfer: [resampled] })
}
