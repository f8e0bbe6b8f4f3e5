import type { Anchor } from '../api/types'
import type { Size } from '../canvas/viewport'

export type Side = 'left' | 'right' | 'top' | 'bottom' | 'all'

/** The canvas `canvas` grown by `pixels` on one side (all sides: on each), and the anchor that
 * keeps the picture on the opposite side. */
export function extendCanvas(canvas: Size, side: Side, pixels: number): Size & { anchor: Anchor } {
  const { width, height } = canvas
  switch (side) {
    case 'left':
      return { width: width + pixels, height, anchor: 'right' }
    case 'right':
      return { width: width + pixels, height, anchor: 'left' }
    case 'top':
      return { width, height: height + pixels, anchor: 'bottom' }
    case 'bottom':
      return { width, height: height + pixels, anchor: 'top' }
    case 'all':
      return { width: width + 2 * pixels, height: height + 2 * pixels, anchor: 'center' }
  }
}

/** The params of the outpaint form: the inpainting op's ones a person sets for a fill. */
export const OUTPAINT_PARAMS = ['prompt', 'negative_prompt', 'model', 'seed', 'steps']
