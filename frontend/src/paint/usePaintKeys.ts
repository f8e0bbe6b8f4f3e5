import { useEffect } from 'react'
import { biggerBrush, paintCommand, smallerBrush, typesText } from '../mask/keys'
import type { Painter } from './painter'

/** Paint mode's keys (see `paintCommand`): stroke undo/redo, Esc, `[` `]`, E, B and I (a tool
 * the painter lacks, such as a mask's colour picker, is left alone). */
export function usePaintKeys(painter: Painter, onExit: () => void) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (typesText(e.target)) return
      const command = paintCommand(e)
      if (command === null) return
      e.preventDefault()
      if (command === 'undo') painter.undo()
      else if (command === 'redo') painter.redo()
      else if (command === 'exit') onExit()
      else if (command === 'smaller') painter.setSize(smallerBrush(painter.size))
      else if (command === 'bigger') painter.setSize(biggerBrush(painter.size, painter.maxSize))
      else if (command === 'eraser') painter.setTool(painter.tool === 'eraser' ? 'brush' : 'eraser')
      else painter.setTool(command)
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [painter, onExit])
}
