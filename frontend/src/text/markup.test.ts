import { describe, expect, it } from 'vitest'
import { parseInlineCode, plainText, withArticle } from './markup'

describe('parseInlineCode', () => {
  it('splits double- and single-backtick code spans from text', () => {
    expect(parseInlineCode('Inpaint ``image_layer`` where `mask_layer` is white.')).toEqual([
      { code: false, text: 'Inpaint ' },
      { code: true, text: 'image_layer' },
      { code: false, text: ' where ' },
      { code: true, text: 'mask_layer' },
      { code: false, text: ' is white.' },
    ])
  })

  it('leaves text without markup, and unmatched backticks, as they are', () => {
    expect(parseInlineCode('plain')).toEqual([{ code: false, text: 'plain' }])
    expect(parseInlineCode('a ` lone tick')).toEqual([{ code: false, text: 'a ` lone tick' }])
    expect(parseInlineCode('')).toEqual([])
  })

  it('gives plain text for tooltips', () => {
    expect(plainText('Uses ``mask_layer``.')).toBe('Uses mask_layer.')
  })
})

describe('withArticle', () => {
  it('puts an before a vowel', () => {
    expect(withArticle('image layer')).toBe('an image layer')
    expect(withArticle('mask layer')).toBe('a mask layer')
    expect(withArticle('layer')).toBe('a layer')
  })
})
