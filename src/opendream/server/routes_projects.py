"""Projects: create, list, get (with layers), rename, delete, undo, redo."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from opendream.core.project import Project
from opendream.server.models import (
    ERRORS,
    ProjectCreate,
    ProjectOut,
    ProjectPatch,
    ProjectSummary,
)
from opendream.server.state import ServerState, doc_out, get_state, project_out

router = APIRouter(prefix="/api/projects", tags=["projects"], responses=ERRORS)
State = Annotated[ServerState, Depends(get_state)]


@router.post("", status_code=201, response_model=ProjectOut)
def create_project(body: ProjectCreate, state: State) -> dict:
    project = Project.new(body.name, body.width, body.height)
    return project_out(state.service.create(project))


@router.get("", response_model=list[ProjectSummary])
def list_projects(state: State) -> list[dict]:
    return state.service.summaries()


@router.get("/{project_id}", response_model=ProjectOut)
def get_project(project_id: str, state: State) -> JSONResponse:
    # The hottest route (clients poll it): answer from the stored document as is, without a
    # Project round trip or response-model validation; the shape is ProjectOut's by construction.
    return JSONResponse(doc_out(state.service.document(project_id)))


@router.patch("/{project_id}", response_model=ProjectOut)
def rename_project(project_id: str, body: ProjectPatch, state: State) -> dict:
    project, _ = state.service.update(project_id, lambda p: p.rename(body.name))
    return project_out(project)


@router.delete("/{project_id}", status_code=204)
def delete_project(project_id: str, state: State) -> Response:
    state.queue.cancel_project(project_id)  # first, so no job of it starts meanwhile
    state.service.delete(project_id)
    return Response(status_code=204)


def _history(project_id: str, state: ServerState, redo: bool) -> dict:

    def change(project: Project) -> list[str]:
        if redo:
            project.redo()
        else:
            project.undo()
        return project.needs_run()  # restored layers whose pixels are not current (mostly cached)

    project, _, _ = state.queue.edit(project_id, change, shown=None)
    return project_out(project)


@router.post("/{project_id}/undo", response_model=ProjectOut)
def undo(project_id: str, state: State) -> dict:
    return _history(project_id, state, redo=False)


@router.post("/{project_id}/redo", response_model=ProjectOut)
def redo(project_id: str, state: State) -> dict:
    return _history(project_id, state, redo=True)
