const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
const TEXT_CHUNKS = new Set(['tEXt', 'iTXt', 'zTXt'])
const WORKFLOW_KEY = 'opendream'

export function isPng(bytes: Uint8Array): boolean {
  return PNG_SIGNATURE.every((b, i) => bytes[i] === b)
}

/** Whether a PNG carries an Opendream workflow (a text chunk keyed `opendream`). */
export function pngHasWorkflow(bytes: Uint8Array): boolean {
  if (!isPng(bytes)) return false
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const ascii = (start: number, length: number) => String.fromCharCode(...bytes.subarray(start, start + length))
  let offset = PNG_SIGNATURE.length
  while (offset + 8 <= bytes.length) {
    const length = view.getUint32(offset)
    const type = ascii(offset + 4, 4)
    const data = offset + 8
    if (TEXT_CHUNKS.has(type) && length > WORKFLOW_KEY.length) {
      if (ascii(data, WORKFLOW_KEY.length) === WORKFLOW_KEY && bytes[data + WORKFLOW_KEY.length] === 0) return true
    }
    if (type === 'IEND') return false
    offset = data + length + 4
  }
  return false
}

export type DroppedKind = 'workflow' | 'image' | 'unsupported'

const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/webp'])

/** What a dropped or picked file is: a workflow to open, a picture to add as a layer, or neither. */
export function classifyFile(name: string, type: string, bytes: Uint8Array): DroppedKind {
  const lower = name.toLowerCase()
  if (type === 'application/json' || lower.endsWith('.json')) return 'workflow'
  if (isPng(bytes)) return pngHasWorkflow(bytes) ? 'workflow' : 'image'
  if (IMAGE_TYPES.has(type) || /\.(jpe?g|webp)$/.test(lower)) return 'image'
  return 'unsupported'
}

/** Whether a file picked to become a layer is a picture (a PNG carrying a workflow is one too). */
export function isPicture(name: string, type: string, bytes: Uint8Array): boolean {
  return isPng(bytes) || classifyFile(name, type, bytes) === 'image'
}

/** What the UI says of a file it will not take as a picture: the server words its refusal alike. */
export function notAPicture(name: string): string {
  return `“${name}”: not a PNG, JPEG or WebP image`
}

/** The first bytes of a file, enough to tell what it is. */
export async function fileHead(file: Blob): Promise<Uint8Array> {
  return new Uint8Array(await file.slice(0, 1 << 20).arrayBuffer())
}
