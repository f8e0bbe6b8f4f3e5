"""Workflow files: export (JSON, self-contained JSON, PNG with the workflow embedded), import
(any of those or the original Opendream format) and replay with its per-layer report."""

from __future__ import annotations

import re
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, HTTPException, Query, UploadFile
from fastapi.responses import JSONResponse, Response

from opendream.core import provenance, workflow
from opendream.core.project import Project, unique_name
from opendream.engine.consent import file_layers
from opendream.engine.workspace import differs_because, replay_result
from opendream.server.models import ERRORS, ConsentOut, ConsentRequest, LayersQueued, ReplayOut, ReplayRequest
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
    workflow becomes a new project; layers without pixels are queued to run, except those of
    remote ops (listed in ``consent``: they wait until ``POST …/consent``)."""
    data = file.file.read(workflow.MAX_WORKFLOW_BYTES + 1)
    if len(data) > workflow.MAX_WORKFLOW_BYTES:
        raise HTTPException(413, f"a workflow file may be at most {workflow.MAX_WORKFLOW_BYTES} bytes")
    imported = workflow.import_any(data, state.workspace.registry)
    # Importing the same file twice gives "name" and "name (2)", which the project list tells apart.
    taken = {p["name"] for p in state.service.summaries()}
    imported.project.name = unique_name(imported.project.name, taken)
    project = state.workspace.import_workflow(imported)
    state.store.set_expected(project.id, imported.expected, imported.environment)
    state.queue.consent.record(project.id, file_layers(project, state.workspace.registry))
    state.hub.publish({"type": "project.changed", "project": project.id, "revision": project.revision})
    todo = project.needs_run()
    jobs = state.queue.submit(project, todo, supersede=False) if todo else []
    return {
        "project": project_out(project),
        "layers": [x.id for x in project.layers],
        "jobs": jobs,
        "notes": imported.notes,
        "consent": _waiting(state, project),
    }


def _waiting(state: ServerState, project: Project) -> list[dict]:
    return [
        {
            "layer": w["layer"],
            "name": project.layer(w["layer"]).name,
            "op": project.layer(w["layer"]).recipe.op,
            "reason": w["reason"],
        }
        for w in state.queue.waiting(project)
    ]


@router.get("/{project_id}/consent", response_model=list[ConsentOut])
def list_consent(project_id: str, state: State) -> list[dict]:
    """The file's layers that wait for the user's consent, with what running them would do
    (call a paid or remote service, download a model the file names)."""
    return _waiting(state, state.service.load(project_id))


@router.post("/{project_id}/consent", response_model=LayersQueued)
def grant_consent(project_id: str, state: State, body: ConsentRequest | None = None) -> dict:
    """The user agrees: the listed waiting layers (all of them by default) are queued and may
    call their service or download their model. 400 for a layer that is not waiting."""
    project = state.service.load(project_id)
    waiting = {w["layer"] for w in _waiting(state, project)}
    layers = waiting if body is None or body.layers is None else set(body.layers)
    unknown = sorted(layers - waiting)
    if unknown:
        raise HTTPException(400, f"not waiting for consent: {', '.join(unknown)}")
    state.queue.consent.grant(project_id, sorted(layers))
    jobs = state.queue.submit(project, [x.id for x in project.layers if x.group in layers], supersede=False)
    return {
        "project": project_out(project),
        "layers": sorted(layers),
        "jobs": jobs,
        "consent": _waiting(state, project),
    }


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
    expected, recorded = state.store.get_expected(project_id)
    waiting = {w["layer"] for w in state.queue.waiting(project)}
    layers = []
    for layer in project.layers:
        job = _job_or_none(state, layer.run.job)
        want = expected.get(layer.id)
        result = replay_result(layer, want, waiting=layer.group in waiting, running=bool(active))
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
                "reason": differs_because(layer, recorded) if result == "differs" else None,
                "note": provenance.layer_note(layer.run, state.workspace.registry.ops.get(layer.recipe.op)),
            }
        )
    ok = not active and all(x["result"] in ("exact", "new") for x in layers)
    return {"ok": ok, "complete": not active, "layers": layers}
