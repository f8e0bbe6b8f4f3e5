"""The built web UI at ``/``, with the single-page-app fallback."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope


def is_client_route(path: str) -> bool:
    """A path the UI routes itself: not under ``api/`` and not naming a file (``x.js``), so a
    missing asset or API route still answers 404."""
    parts = path.strip("/").split("/")
    return parts[0] != "api" and "." not in parts[-1]


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
