"""Project load-modify-save with compare-and-swap retry, shared by routes and the worker.

Requests and the worker change the same project documents. Each change is a function
applied to a freshly loaded project and saved only if nobody saved in between; on a
conflict the change is applied again to the newer document, so no writer clobbers another.
Writers in this process take turns per project: a request waits for at most one worker
write instead of losing the race to a busy worker again and again (a long chain of jobs
saves the project many times a second). The revision check still guards other processes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from opendream.core.errors import RevisionConflict
from opendream.core.project import Project
from opendream.engine.workspace import Workspace
from opendream.server.hub import Hub

T = TypeVar("T")
MAX_ATTEMPTS = 20


def layer_event(project: Project, layer_ids: Iterable[str]) -> dict[str, Any]:
    """A ``layer.changed`` event with the current state of each listed layer (gone ones omitted)."""
    ids = set(layer_ids)
    return {
        "type": "layer.changed",
        "project": project.id,
        "revision": project.revision,
        "layers": [
            {"id": x.id, "status": x.status, "blob": x.blob, "error": x.run.error}
            for x in project.layers
            if x.id in ids
        ],
    }


class ProjectService:
    def __init__(self, workspace: Workspace, hub: Hub) -> None:
        self.workspace = workspace
        self.hub = hub
        self._locks: dict[str, threading.RLock] = {}
        self._locks_lock = threading.Lock()

    def _lock(self, project_id: str) -> threading.RLock:
        with self._locks_lock:
            return self._locks.setdefault(project_id, threading.RLock())

    def load(self, project_id: str) -> Project:
        return self.workspace.load(project_id)

    def document(self, project_id: str) -> dict[str, Any]:
        """The stored project document as it is (``Project.to_dict``), for the hottest read."""
        return self.workspace.data.db.load_project(project_id)

    def summaries(self) -> list[dict[str, Any]]:
        """Every project's summary for the project list (name, size, layer count, thumbnail)."""
        return self.workspace.data.db.list_projects()

    def delete(self, project_id: str) -> None:
        """Delete the project and what was recorded about it (its jobs are the queue's)."""
        self.workspace.data.db.delete_project(project_id)
        self.hub.publish({"type": "project.changed", "project": project_id, "deleted": True})

    def create(self, project: Project) -> Project:
        self.workspace.save_new(project)
        self.hub.publish({"type": "project.changed", "project": project.id, "revision": project.revision})
        return project

    def update(self, project_id: str, change: Callable[[Project], T]) -> tuple[Project, T]:
        """Apply ``change`` to the latest project and save it; retried on revision conflicts.
        ``change`` may run more than once, each time on a fresh copy; what it raises propagates
        and nothing is saved."""
        with self._lock(project_id):
            return self._update(project_id, change)

    def _update(self, project_id: str, change: Callable[[Project], T]) -> tuple[Project, T]:
        for _ in range(MAX_ATTEMPTS):
            project = self.workspace.load(project_id)
            before = project.revision
            result = change(project)
            if project.revision == before:
                return project, result
            try:
                self.workspace.save(project, expected_revision=before)
            except RevisionConflict:
                continue
            self.hub.publish({"type": "project.changed", "project": project.id, "revision": project.revision})
            return project, result
        raise RevisionConflict(before, self.workspace.load(project_id).revision)

    def publish_layers(self, project: Project, layer_ids: Iterable[str]) -> None:
        self.hub.publish(layer_event(project, layer_ids))
