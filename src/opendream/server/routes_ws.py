"""``/api/ws``: server events out; ``{"type": "cancel", "job": id}`` in."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from opendream.server.state import ServerState, get_ws_state
from opendream.server.ws_models import Cancel, CancelAccepted, ErrorMessage

router = APIRouter()
MAX_MESSAGE = 4096


async def _send_events(websocket: WebSocket, queue: asyncio.Queue[dict[str, Any]]) -> None:
    while True:
        await websocket.send_json(await queue.get())


def _error(detail: str) -> dict[str, Any]:
    return ErrorMessage(type="error", detail=detail).model_dump()


def _why(exc: ValidationError) -> str:
    """What is wrong with a client message, in the words the API documents."""
    errors = exc.errors()
    if any(e["type"] in ("json_invalid", "model_type") for e in errors):
        return "messages are JSON objects"
    if any(not e["loc"] or e["loc"][0] != "job" for e in errors):
        return 'the only message is {"type": "cancel", "job": "<id>"}'
    return "`job` has to be a job id"


async def _handle(state: ServerState, text: str) -> dict[str, Any]:
    if len(text) > MAX_MESSAGE:
        return _error(f"messages are at most {MAX_MESSAGE} characters")
    try:
        message = Cancel.model_validate_json(text)
    except ValidationError as exc:
        return _error(_why(exc))
    try:
        job = await run_in_threadpool(state.queue.cancel, message.job)
    except KeyError:
        return _error(f"no job {message.job!r}")
    return CancelAccepted(type="cancel.accepted", job=job).model_dump(mode="json")


@router.websocket("/api/ws")
async def events(websocket: WebSocket, state: Annotated[ServerState, Depends(get_ws_state)]) -> None:
    await websocket.accept()
    queue = state.hub.subscribe()
    sender = asyncio.create_task(_send_events(websocket, queue))
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            if text is None:  # a binary frame
                await websocket.send_json(_error("messages are JSON text, not binary"))
                continue
            await websocket.send_json(await _handle(state, text))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        state.hub.unsubscribe(queue)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
