"""The job queue: list, get, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from opendream.server.models import ERRORS, JobOut
from opendream.server.state import ServerState, get_state

router = APIRouter(prefix="/api/jobs", tags=["jobs"], responses=ERRORS)
State = Annotated[ServerState, Depends(get_state)]
JobState = Annotated[str | None, Query(pattern="^(queued|running|completed|failed|cancelled)$")]


@router.get("", response_model=list[JobOut])
def list_jobs(
    state: State,
    project: Annotated[str | None, Query(max_length=64)] = None,
    status: JobState = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict]:
    """Newest first."""
    return state.store.recent(project_id=project, state=status, limit=limit)


def _job(state: ServerState, job_id: str) -> dict:
    try:
        return state.store.get(job_id)
    except KeyError:
        raise HTTPException(404, f"no job {job_id!r}") from None


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: str, state: State) -> dict:
    return _job(state, job_id)


@router.post("/{job_id}/cancel", response_model=JobOut)
def cancel_job(job_id: str, state: State) -> dict:
    """A queued job is cancelled at once; a running one stops at its next step (poll or watch
    the WebSocket for ``job.cancelled``). Cancelling a finished job changes nothing."""
    _job(state, job_id)
    return state.queue.cancel(job_id)
