"""The FastAPI app factory: routes, error mapping, security middleware, the worker threads."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

import opendream
from opendream.core import workflow
from opendream.core.errors import InvalidParams, OpendreamError
from opendream.core.images import MAX_DOWNLOAD_BYTES
from opendream.engine.workspace import Workspace
from opendream.server import (
    routes_blobs,
    routes_canvas,
    routes_extensions,
    routes_jobs,
    routes_layers,
    routes_meta,
    routes_projects,
    routes_workflow,
    routes_ws,
)
from opendream.server.docs_page import add_docs_page
from opendream.server.frontend import FrontendMount
from opendream.server.hub import Hub
from opendream.server.jobs import JobQueue
from opendream.server.security import SecurityMiddleware, is_loopback, redact_token_logs
from opendream.server.service import ProjectService
from opendream.server.state import ServerState
from opendream.server.watcher import ExtensionPoller
from opendream.server.ws_models import add_to_openapi
from opendream.settings import Settings
from opendream.storage.jobs import JobStore

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"
SWITCH_INTERVAL = 0.001  # seconds; CPython's default is 0.005


def _error(
    status: int, detail: str, errors: list[dict] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict = {"detail": detail}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers)


async def _opendream_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OpendreamError)
    errors = exc.errors if isinstance(exc, InvalidParams) else None
    return _error(exc.status, exc.message, errors)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "param": "body"
            if e["type"] == "json_invalid"  # its loc is a character offset, not a field
            else ".".join(str(p) for p in e["loc"] if p != "body") or "body",
            "message": e["msg"],
        }
        for e in exc.errors()
    ]
    detail = "; ".join(f"`{e['param']}`: {e['message']}" for e in errors)
    # A malformed URL (e.g. a blob name that is not a hex digest) is a bad request, not bad fields.
    status = 400 if any(e["loc"][0] == "path" for e in exc.errors()) else 422
    return _error(status, f"invalid request: {detail}", errors)


def _allowed(request: Request) -> list[str]:
    """The methods of the most specific documented path template that matches the request
    (``/projects/import`` over ``/projects/{id}``). Starlette's own Allow names only the first
    route's, and FastAPI's included routers do not list their routes."""
    templates = [t for t in request.app.openapi()["paths"] if compile_path(t)[0].fullmatch(request.url.path)]
    if not templates:
        return []
    best = min(templates, key=lambda t: t.count("{"))
    return sorted(m.upper() for m in request.app.openapi()["paths"][best])


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(_allowed(request))}
    return _error(exc.status_code, str(exc.detail), headers=headers)


def create_app(
    settings: Settings,
    *,
    workspace: Workspace | None = None,
    workers: int | None = None,
    start_workers: bool = True,
    static_dir: Path = STATIC_DIR,
) -> FastAPI:
    """The app over a workspace (opened from ``settings`` unless given). A non-loopback
    ``settings.host`` requires ``settings.token``. Workers start with the app's lifespan. The
    web UI is served from ``static_dir`` once it is built there."""
    loopback = is_loopback(settings.host)
    if not loopback and not settings.token:
        raise ValueError(f"binding to {settings.host} requires a token")
    workspace = workspace or Workspace(settings)
    hub = Hub()
    service = ProjectService(workspace, hub)
    store = JobStore(workspace.data.db)
    # As many job workers as the executor runs recipes at once (one per Ray worker), unless told.
    queue = JobQueue(service, store, workers=workers or workspace.executor.parallelism)
    state = ServerState(settings, workspace, hub, service, store, queue)
    poller = ExtensionPoller(workspace.extensions, hub)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        hub.bind(asyncio.get_running_loop())
        # A worker thread running Python-heavy op code holds the GIL for up to the switch
        # interval at a time; a shorter one keeps requests answering during a generation.
        sys.setswitchinterval(SWITCH_INTERVAL)
        interrupted = await asyncio.to_thread(queue.recover)
        if interrupted:
            log.warning("%d job(s) were interrupted by the last shutdown", len(interrupted))
        if start_workers:
            queue.start()
        if settings.warm_start and workspace.runtime.models is not None:
            workspace.runtime.models.warm_up()  # the first job's imports, while none is asked for
        poller.start()
        try:
            yield
        finally:
            await asyncio.to_thread(poller.stop)
            await asyncio.to_thread(queue.stop)

    app = FastAPI(
        title="Opendream",
        version=opendream.__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,  # add_docs_page, when asked for
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.opendream = state

    def openapi() -> dict[str, Any]:
        # The WebSocket's messages are no route's body: declared among the components.
        if app.openapi_schema is None:
            add_to_openapi(FastAPI.openapi(app))
        return FastAPI.openapi(app)

    app.openapi = openapi  # type: ignore[method-assign]
    if settings.api_docs:
        add_docs_page(app)
    redact_token_logs()
    app.add_exception_handler(OpendreamError, _opendream_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for module in (
        routes_meta,
        routes_projects,
        routes_canvas,
        routes_workflow,
        routes_layers,
        routes_blobs,
        routes_jobs,
        routes_extensions,
        routes_ws,
    ):
        app.include_router(module.router)
    if (static_dir / "index.html").is_file():
        app.router.routes.append(FrontendMount(str(static_dir)))
    large = MAX_DOWNLOAD_BYTES + 1024 * 1024  # the file plus multipart framing
    app.add_middleware(
        SecurityMiddleware,
        loopback_only=loopback,
        token=settings.token,
        large_bodies={
            "/uploads": large,
            "/masks": large,
            "/asset": large,
            "/import": workflow.MAX_WORKFLOW_BYTES + 1024 * 1024,
        },
    )
    return app
