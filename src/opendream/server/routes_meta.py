"""Health and the op catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

import opendream
from opendream.server.models import ERRORS, HealthOut, LocalEmbeddingOut, LocalLoraOut, LocalModelOut, OpsOut
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


@router.get("/models", response_model=list[LocalModelOut])
def list_models(state: State) -> list[dict]:
    """The models available here without a download, with their family: pipelines in the
    Hugging Face cache, pipeline folders and ``.safetensors`` files in the model folders
    (``OPENDREAM_MODEL_DIRS``, ``<data dir>/models``, the tiny models). Empty without the
    diffusion extra."""
    models = state.workspace.runtime.models
    return models.local_models() if models is not None else []


@router.get("/loras", response_model=list[LocalLoraOut])
def list_loras(state: State) -> list[dict]:
    """The LoRA files in the model folders and their subfolders, with the family they were
    trained for and their trigger words. Empty without the diffusion extra."""
    models = state.workspace.runtime.models
    return models.local_loras() if models is not None else []


@router.get("/embeddings", response_model=list[LocalEmbeddingOut])
def list_embeddings(state: State) -> list[dict]:
    """The textual-inversion embeddings in the model folders and their subfolders, by the name
    a prompt writes to use one, with the family they were trained for. Empty without the
    diffusion extra."""
    models = state.workspace.runtime.models
    return models.local_embeddings() if models is not None else []
