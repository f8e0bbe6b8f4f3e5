"""A project whose own jobs keep the worker writing to it (a long chain, as a hostile import
would queue) can still be renamed and deleted at once: edits do not lose the compare-and-swap
race to the worker over and over, and a delete cancels the project's jobs in one step."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from opendream.core.project import Project
from tests.server_fixtures import BASE, make_app, wait_for

CHAIN = 200
RENAMES = 10
ANSWER_WITHIN = 15.0  # seconds: one worker write at most, plus a slow shared machine


def _chain_project(client: TestClient, length: int) -> str:
    """A project of ``length`` layers, each made from the one below, all queued to run."""
    state = client.app.state.opendream
    registry = state.workspace.registry
    project = Project.new("busy")
    below = project.add_layer(registry.get("server_test_slow"), {"steps": 1, "delay": 0}, {})
    for _ in range(length - 1):
        below = project.add_layer(registry.get("server_test_tint"), {"amount": 1}, {"image": below.id})
    project.undo_stack.clear()  # as an imported project: no history
    state.service.create(project)
    state.queue.submit(project, project.needs_run())
    return project.id


def _completed(client: TestClient, project_id: str) -> int:
    jobs = client.get("/api/jobs", params={"project": project_id, "limit": 1000}).json()
    return sum(j["state"] == "completed" for j in jobs)


def test_rename_and_delete_win_over_the_projects_running_jobs(tmp_path: Path) -> None:
    app = make_app(tmp_path / "data")
    with TestClient(app, base_url=BASE) as client:
        project_id = _chain_project(client, CHAIN)
        wait_for(lambda: _completed(client, project_id) >= 5, 60, "the chain to start running")

        for attempt in range(RENAMES):
            started = time.monotonic()
            renamed = client.patch(f"/api/projects/{project_id}", json={"name": f"renamed {attempt}"})
            assert renamed.status_code == 200, f"rename {attempt}: {renamed.text}"
            assert renamed.json()["name"] == f"renamed {attempt}"
            assert time.monotonic() - started < ANSWER_WITHIN
        assert client.get("/api/jobs", params={"project": project_id, "status": "queued"}).json(), (
            "the rename should leave the chain running"
        )

        started = time.monotonic()
        deleted = client.delete(f"/api/projects/{project_id}")
        assert deleted.status_code == 204, deleted.text
        assert time.monotonic() - started < ANSWER_WITHIN
        assert client.get(f"/api/projects/{project_id}").status_code == 404

        def settled() -> bool:
            jobs = client.get("/api/jobs", params={"project": project_id, "limit": 1000}).json()
            return all(j["state"] in ("completed", "cancelled", "failed") for j in jobs)

        wait_for(settled, 10, "every job of the deleted project to end")
        jobs = client.get("/api/jobs", params={"project": project_id, "limit": 1000}).json()
        assert len(jobs) == CHAIN
        assert sum(j["state"] == "cancelled" for j in jobs) >= CHAIN - 50
    app.state.opendream.workspace.close()
