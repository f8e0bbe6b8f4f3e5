"""Extensions: list them (with load errors, pinned sources, the packages they miss and the
built-in ops they override), switch an override off or on again, reload them, and install one
from a URL in two steps: fetch into quarantine (shows source and sha256), then enable with
that exact hash confirmed. URL installs need ``allow_url_install`` and a loopback bind."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response

from opendream.engine import installer
from opendream.engine.loader import ExtensionStatus
from opendream.server.install_codes import InstallCodes
from opendream.server.models import (
    ERRORS,
    EnabledOut,
    ErrorOut,
    ExtensionEnable,
    ExtensionFetch,
    ExtensionsOut,
    FetchedOut,
    PendingOut,
    UseBuiltin,
)
from opendream.server.state import ServerState, get_state

router = APIRouter(prefix="/api/extensions", tags=["extensions"], responses=ERRORS)
State = Annotated[ServerState, Depends(get_state)]


def get_codes(request: Request) -> InstallCodes:
    """The app's confirmation codes (made on first use: they live as long as the server)."""
    if not hasattr(request.app.state, "install_codes"):
        request.app.state.install_codes = InstallCodes()
    return request.app.state.install_codes


Codes = Annotated[InstallCodes, Depends(get_codes)]


def _extension_out(state: ServerState, status: ExtensionStatus, pinned: dict[str, dict[str, str]]) -> dict:
    # installed.json pins files of the extensions folder; a same-named extension elsewhere is not it.
    installed_file = str((state.settings.extensions_dir / f"{status.name}.py").resolve())
    source = pinned.get(status.name) if status.source == installed_file else None
    return {
        **vars(status),
        "overrides": state.workspace.extensions.overrides(status),
        "url": source and source["url"],
        "sha256": source and source["sha256"],
    }


def _listing(state: ServerState, statuses: list[ExtensionStatus]) -> dict:
    try:
        installer.check_allowed(state.settings, state.settings.host)
        allowed, reason = True, None
    except installer.InstallRefused as exc:
        allowed, reason = False, exc.message
    pinned = state.workspace.extensions.provenance()
    return {
        "url_install": {"allowed": allowed, "reason": reason},
        "extensions": [_extension_out(state, s, pinned) for s in statuses],
    }


@router.get("", response_model=ExtensionsOut)
def list_extensions(state: State) -> dict:
    """Every extension with its ops, its load error and, when installed from a URL, the source
    and pinned sha256; and whether this server allows installing from a URL."""
    return _listing(state, state.workspace.extensions.statuses)


@router.post("/reload", response_model=ExtensionsOut)
def reload_extensions(state: State) -> dict:
    """Re-execute the bundled extensions and every extension file."""
    statuses = state.workspace.extensions.reload()
    state.hub.publish({"type": "extensions.changed"})
    return _listing(state, statuses)


@router.put("/overrides/{op}", response_model=ExtensionsOut)
def switch_override(
    op: Annotated[str, Path(max_length=200, description="An op a user extension overrides")],
    body: UseBuiltin,
    state: State,
) -> dict:
    """Run the built-in (or bundled) op again instead of a user extension's op of the same name,
    or the override again; remembered across restarts. 404 when no extension overrides ``op``."""
    state.workspace.extensions.use_builtin(op, body.use_builtin)
    state.hub.publish({"type": "extensions.changed"})
    return _listing(state, state.workspace.extensions.statuses)


@router.post(
    "/fetch",
    response_model=FetchedOut,
    responses={
        502: {"model": ErrorOut, "description": "The download failed"},
        504: {"model": ErrorOut, "description": "The download timed out"},
    },
)
def fetch_extension(body: ExtensionFetch, state: State, codes: Codes) -> dict:
    """Download an extension file into quarantine and show it; nothing runs. The server prints
    a one-time confirmation code on its console (never in this answer) that enabling needs.
    (A sync route: FastAPI runs it on its thread pool, so the download never blocks the loop.)"""
    pending = installer.fetch(body.url, state.settings, state.settings.host)
    codes.issue(pending.sha256, pending.name, pending.url)
    preview, truncated = installer.preview(state.settings, pending.sha256)
    return {
        "url": pending.url,
        "name": pending.name,
        "sha256": pending.sha256,
        "size": pending.size,
        "preview": preview,
        "preview_truncated": truncated,
    }


@router.post("/enable", response_model=EnabledOut)
def enable_extension(body: ExtensionEnable, state: State, codes: Codes) -> dict:
    """Enable the quarantined download whose sha256 is exactly the confirmed one, pin that hash
    and load it: its ops are available at once (or its load error is shown). ``code`` is the
    one-time code the server printed on its console for this download: an HTTP call alone
    cannot enable code (403 without it; three wrong codes void it)."""
    installer.check_allowed(state.settings, state.settings.host)
    refused = codes.redeem(installer.waiting(state.settings, body.sha256).sha256, body.code)
    if refused is not None:
        raise HTTPException(403, refused)
    target = installer.enable(state.settings, body.sha256, state.settings.host)
    extensions = state.workspace.extensions
    extensions.reload()
    state.hub.publish({"type": "extensions.changed"})
    status = extensions.status(target) or ExtensionStatus(target.stem, str(target.resolve()))
    registry = state.workspace.registry
    return {
        "extension": _extension_out(state, status, extensions.provenance()),
        "ops": [registry.ops[name].describe() for name in status.ops if name in registry.ops],
    }


@router.get("/pending", response_model=list[PendingOut])
def list_pending(state: State) -> list[dict]:
    """Downloads waiting in quarantine for their sha256 to be confirmed."""
    return [asdict(p) for p in installer.pending(state.settings)]


@router.delete("/pending/{sha256}", status_code=204, response_class=Response)
def discard_pending(
    sha256: Annotated[str, Path(pattern="^[0-9a-fA-F]{64}$", description="The download's sha256")],
    state: State,
) -> Response:
    """Delete a quarantined download the user declined. 404 when there is none."""
    installer.discard(state.settings, sha256)
    return Response(status_code=204)
