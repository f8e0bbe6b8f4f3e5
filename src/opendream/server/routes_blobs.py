"""Blobs by hex sha256: the PNG bytes or a thumbnail. Content never changes, so responses are
cacheable forever. The digest is validated before any path is built from it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from opendream.server.models import ERRORS
from opendream.server.state import ServerState, get_state

router = APIRouter(prefix="/api/blobs", tags=["blobs"], responses=ERRORS)
State = Annotated[ServerState, Depends(get_state)]
THUMB_SIDE = 256
DIGEST = "^[0-9a-f]{64}$"  # checked before any path is built from it
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}


@router.get(
    "/{digest}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def get_blob(
    digest: Annotated[
        str, Path(pattern=DIGEST, description="sha256 of the PNG, 64 lowercase hex characters")
    ],
    state: State,
    thumb: Annotated[bool, Query(description=f"A PNG at most {THUMB_SIDE} px on its longer side")] = False,
) -> Response:
    blobs = state.workspace.data.blobs
    data = blobs.thumbnail(digest, THUMB_SIDE) if thumb else blobs.get(digest)
    return Response(data, media_type="image/png", headers={**IMMUTABLE, "ETag": f'"{digest}"'})
