/** A piece of a description: plain text, or a code span written ``like_this`` (or `like_this`). */
export interface Segment {
  code: boolean
  text: string
}

const CODE_SPAN = /``(.+?)``|`([^`]+)`/g

/** Splits docstring-style text into plain and code segments. Text stays text: the caller
 * renders segments as React children, never as HTML. */
export function parseInlineCode(text: string): Segment[] {
  const segments: Segment[] = []
  let last = 0
  for (const match of text.matchAll(CODE_SPAN)) {
    if (match.index > last) segments.push({ code: false, text: text.slice(last, match.index) })
    segments.push({ code: true, text: match[1] ?? match[2] })
    last = match.index + match[0].length
  }
  if (last < text.length) segments.push({ code: false, text: text.slice(last) })
  return segments
}

/** The text without its code markup, for places that take plain text (a tooltip). */
export function plainText(text: string): string {
  return parseInlineCode(text)
    .map((s) => s.text)
    .join('')
}

/** "a" or "an" for the word that follows, by its first letter (good enough for UI nouns). */
export function withArticle(phrase: string): string {
  return `${/^[aeiou]/i.test(phrase) ? 'an' : 'a'} ${phrase}`
}
