"""Blobs by hex sha256: the PNG bytes or a thumbnail. Content never changes, so responses are
cacheable forever. The digest is validated before any path is built from it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from opendream.server.models import ErrorOut
from opendream.server.state import ServerState, get_state
from opendream.storage.blobs import validate_digest

router = APIRouter(prefix="/api/blobs", tags=["blobs"])
State = Annotated[ServerState, Depends(get_state)]
THUMB_SIDE = 256
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}


@router.get(
    "/{digest}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 400: {"model": ErrorOut}, 404: {"model": ErrorOut}},
)
def get_blob(
    digest: str,
    state: State,
    thumb: Annotated[bool, Query(description=f"A PNG at most {THUMB_SIDE} px on its longer side")] = False,
) -> Response:
    try:
        validate_digest(digest)
    except ValueError:
        raise HTTPException(400, "a blob is named by its sha256: 64 lowercase hex characters") from None
    blobs = state.workspace.data.blobs
    data = blobs.thumbnail(digest, THUMB_SIDE) if thumb else blobs.get(digest)
    return Response(data, media_type="image/png", headers={**IMMUTABLE, "ETag": f'"{digest}"'})
