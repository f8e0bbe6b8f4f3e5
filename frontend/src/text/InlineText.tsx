import { parseInlineCode } from './markup'

/** A description with its ``code`` spans shown as <code>; everything else is plain text. */
export function InlineText({ text }: { text: string }) {
  return (
    <>
      {parseInlineCode(text).map((s, i) => (s.code ? <code key={i}>{s.text}</code> : <span key={i}>{s.text}</span>))}
    </>
  )
}
