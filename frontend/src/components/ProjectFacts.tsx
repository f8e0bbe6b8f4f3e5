import { blobUrl } from '../api/client'
import type { ProjectSummary } from '../api/types'

/** "512×512 · 3 layers": what tells projects of the same name apart, with the thumbnail. */
export function projectFacts(p: ProjectSummary): string {
  return `${p.width}×${p.height} · ${p.layer_count} ${p.layer_count === 1 ? 'layer' : 'layers'}`
}

/** The project's top visible image, or an empty square. */
export function ProjectThumb({ project }: { project: ProjectSummary }) {
  return (
    <div className="thumb project-thumb">
      {project.thumbnail !== null ? (
        <img src={blobUrl(project.thumbnail, true)} alt={`Thumbnail of ${project.name}`} draggable={false} />
      ) : (
        <span className="thumb-empty" aria-hidden="true" />
      )}
    </div>
  )
}
