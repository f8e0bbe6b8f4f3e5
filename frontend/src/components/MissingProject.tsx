import { useController } from '../state/context'

/** What a URL naming an unknown project shows (a stale bookmark, a deleted project). */
export function MissingProject({ id }: { id: string }) {
  const controller = useController()
  return (
    <main className="home">
      <section className="home-section" aria-labelledby="missing-project">
        <h2 id="missing-project">No such project</h2>
        <p>
          There is no project <code>{id}</code> on this server: it may have been deleted, or the link is wrong.
        </p>
        <p>
          <a
            href="/"
            onClick={(e) => {
              e.preventDefault()
              controller.closeProject()
            }}
          >
            Back to the projects
          </a>
        </p>
      </section>
    </main>
  )
}
