/** The UI's URLs: `/` is the project list, `/projects/<id>` an open project. */

const PROJECT_PATH = /^\/projects\/([^/]+)\/?$/

/** The project a path names, or null for the project list (and any path the UI does not know). */
export function projectOfPath(path: string): string | null {
  const match = PROJECT_PATH.exec(path)
  if (match === null) return null
  try {
    return decodeURIComponent(match[1])
  } catch {
    return null
  }
}

export function pathOfProject(id: string | null): string {
  return id === null ? '/' : `/projects/${encodeURIComponent(id)}`
}
