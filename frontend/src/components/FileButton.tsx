import { useRef, type ReactNode } from 'react'

interface FileButtonProps {
  accept: string
  onFile: (file: File) => void
  children: ReactNode
  className?: string
}

/** A button that opens the file picker. */
export function FileButton({ accept, onFile, children, className }: FileButtonProps) {
  const input = useRef<HTMLInputElement>(null)
  return (
    <>
      <button type="button" className={className} onClick={() => input.current?.click()}>
        {children}
      </button>
      <input
        ref={input}
        type="file"
        accept={accept}
        hidden
        tabIndex={-1}
        onChange={(e) => {
          const file = e.target.files?.[0]
          e.target.value = ''
          if (file !== undefined) onFile(file)
        }}
      />
    </>
  )
}
