"""``/api/ws``: server events out; ``{"type": "cancel", "job": id}`` in."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from opendream.server.state import ServerState, get_ws_state

router = APIRouter()
MAX_MESSAGE = 4096


async def _send_events(websocket: WebSocket, queue: asyncio.Queue[dict[str, Any]]) -> None:
    while True:
        await websocket.send_json(await queue.get())


async def _handle(state: ServerState, text: str) -> dict[str, Any]:
    if len(text) > MAX_MESSAGE:
        return {"type": "error", "detail": f"messages are at most {MAX_MESSAGE} characters"}
    try:
        message = json.loads(text)
    except ValueError:
        return {"type": "error", "detail": "messages are JSON objects"}
    if not isinstance(message, dict) or message.get("type") != "cancel":
        return {"type": "error", "detail": 'the only message is {"type": "cancel", "job": "<id>"}'}
    job_id = message.get("job")
    if not isinstance(job_id, str) or not 0 < len(job_id) <= 64:
        return {"type": "error", "detail": "`job` has to be a job id"}
    try:
        job = await run_in_threadpool(state.queue.cancel, job_id)
    except KeyError:
        return {"type": "error", "detail": f"no job {job_id!r}"}
    return {"type": "cancel.accepted", "job": job}


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
                await websocket.send_json({"type": "error", "detail": "messages are JSON text, not binary"})
                continue
            await websocket.send_json(await _handle(state, text))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        state.hub.unsubscribe(queue)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
