"""The built web UI at ``/``, with the single-page-app fallback."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope


def is_client_route(path: str) -> bool:
    """A path the UI routes itself: one that names no file (``x.js``), so a missing asset
    still answers 404."""
    return "." not in path.rstrip("/").rsplit("/", 1)[-1]


class FrontendFiles(StaticFiles):
    """Serves the built frontend; an unknown client-side route (``/projects/p1`` after a
    reload) gets ``index.html`` so the UI can route it."""

    def __init__(self, directory: str) -> None:
        super().__init__(directory=directory, html=True)

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or not is_client_route(path):
                raise
            return await super().get_response("index.html", scope)


class FrontendMount(Mount):
    """``/`` for the UI, except ``/api``: an unknown API path stays a JSON 404 and a known one
    with the wrong method a 405, instead of the UI answering them."""

    def __init__(self, directory: str) -> None:
        super().__init__("/", app=FrontendFiles(directory), name="frontend")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if path == "/api" or path.startswith("/api/"):
            return Match.NONE, {}
        return super().matches(scope)
