"""Health and the op catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

import opendream
from opendream.server.models import ERRORS, HealthOut, OpsOut
from opendream.server.state import ServerState, get_state

router = APIRouter(prefix="/api", tags=["meta"], responses=ERRORS)
State = Annotated[ServerState, Depends(get_state)]


@router.get("/health", response_model=HealthOut)
def health(state: State) -> dict:
    runtime = state.workspace.runtime
    return {
        "status": "ok",
        "version": opendream.__version__,
        "device": runtime.device,
        "dtype": runtime.dtype,
        "tiny_models": state.settings.tiny_models,
        "workers": state.queue.workers,
        "queued": len(state.store.recent(state="queued", limit=1000)),
    }


@router.get("/ops", response_model=OpsOut)
def list_ops(state: State) -> dict:
    """Every installed op with its form schema, and every extension with its load error."""
    return {
        "ops": [s.describe() for s in state.workspace.registry],
        "extensions": [
            {**vars(x), "overrides": state.workspace.extensions.overrides(x)}
            for x in state.workspace.extensions.statuses
        ],
    }
