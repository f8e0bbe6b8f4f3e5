"""Workflow files: export (JSON, self-contained JSON, PNG with the workflow embedded), import
(any of those or the original Opendream format) and replay with its per-layer report."""

from __future__ import annotations

import re
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, HTTPException, Query, UploadFile
from fastapi.responses import JSONResponse, Response

from opendream.core import workflow
from opendream.core.project import Project
from opendream.server.models import ERRORS, LayersQueued, ReplayOut, ReplayRequest
from opendream.server.state import ServerState, get_state, project_out

router = APIRouter(prefix="/api/projects", tags=["workflows"], responses=ERRORS)
State = Annotated[ServerState, Depends(get_state)]
POLL_SECONDS = 0.05


def _filename(project: Project, suffix: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", project.name).strip("-")[:60] or "project"
    return f"{stem}{suffix}"


@router.get("/{project_id}/workflow", response_model=dict)
def export_workflow(
    project_id: str,
    state: State,
    embed: Annotated[
        Literal["assets", "all"], Query(description="`all` embeds every result: a self-contained file")
    ] = "assets",
) -> JSONResponse:
    project = state.service.load(project_id)
    data = state.workspace.export_workflow(project, embed)
    disposition = f'attachment; filename="{_filename(project, ".opendream.json")}"'
    return JSONResponse(data, headers={"Content-Disposition": disposition})


@router.get(
    "/{project_id}/export.png", response_class=Response, responses={200: {"content": {"image/png": {}}}}
)
def export_png(project_id: str, state: State) -> Response:
    """The visible canvas as a PNG carrying the workflow (``opendream`` iTXt chunk) and the
    A1111-style ``parameters`` of the top generated layer; importing it reopens the project."""
    project = state.service.load(project_id)
    document = state.workspace.export_workflow(project, "assets")
    parameters = next(
        (
            text
            for x in reversed(project.layers)
            if x.kind == "image" and (text := workflow.a1111_parameters(x))
        ),
        None,
    )
    png = workflow.workflow_png(state.workspace.composite(project), document, parameters)
    disposition = f'attachment; filename="{_filename(project, ".png")}"'
    return Response(png, media_type="image/png", headers={"Content-Disposition": disposition})


@router.post("/import", status_code=201, response_model=LayersQueued)
def import_workflow(state: State, file: Annotated[UploadFile, File()]) -> dict:
    """A workflow JSON (self-contained or not), an exported PNG, or an original Opendream
    workflow becomes a new project; layers without pixels are queued to run."""
    data = file.file.read(workflow.MAX_WORKFLOW_BYTES + 1)
    if len(data) > workflow.MAX_WORKFLOW_BYTES:
        raise HTTPException(413, f"a workflow file may be at most {workflow.MAX_WORKFLOW_BYTES} bytes")
    imported = workflow.import_any(data, state.workspace.registry)
    project = state.workspace.import_workflow(imported)
    state.store.set_expected(project.id, imported.expected)
    state.hub.publish({"type": "project.changed", "project": project.id, "revision": project.revision})
    todo = project.needs_run()
    jobs = state.queue.submit(project, todo, supersede=False) if todo else []
    return {"project": project_out(project), "layers": [x.id for x in project.layers], "jobs": jobs}


def _job_or_none(state: ServerState, job_id: str | None) -> dict | None:
    # An imported layer may name a job of the machine it came from.
    try:
        return state.store.get(job_id) if job_id else None
    except KeyError:
        return None


@router.post("/{project_id}/replay", response_model=ReplayOut)
def replay(project_id: str, state: State, body: ReplayRequest | None = None) -> dict:
    """Run every layer that needs it (every layer with ``force``), wait for the runs, and
    report per layer whether its result matches the hash recorded by the imported file."""
    body = body or ReplayRequest()
    project = state.service.load(project_id)
    ids = [x.id for x in project.layers] if body.force else project.needs_run()
    if ids:
        state.queue.submit(project, ids, force=body.force, supersede=False)
    deadline = time.monotonic() + body.timeout
    while (active := state.store.active(project_id)) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    project = state.service.load(project_id)
    expected = state.store.get_expected(project_id)
    layers = []
    for layer in project.layers:
        job = _job_or_none(state, layer.run.job)
        want = expected.get(layer.id)
        if layer.status in ("pending", "running", "stale") and active:
            result = "pending"
        elif layer.status != "ready" or layer.blob is None:
            result = "failed"
        elif want is None:
            result = "new"
        else:
            result = "exact" if want == layer.blob else "differs"
        layers.append(
            {
                "layer": layer.id,
                "name": layer.name,
                "op": layer.recipe.op,
                "status": layer.status,
                "job": layer.run.job,
                "outcome": job["outcome"] if job else None,
                "result": result,
                "blob": layer.blob,
                "expected": want,
                "error": layer.run.error,
            }
        )
    ok = not active and all(x["result"] in ("exact", "new") for x in layers)
    return {"ok": ok, "complete": not active, "layers": layers}
