"""Loading helpers of the model manager: what turns a library's failure into a message a user
can act on, the private folder single-file checkpoints are linked from, and a hub download
that reports its bytes."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from opendream.core.errors import ModelUnavailable
from opendream.diffusion.model_sources import Source

T = TypeVar("T")
DownloadProgress = Callable[[int, int], None]  # (bytes done, bytes total or 0 when unknown)
#: Symlinks giving single-file checkpoints the suffix diffusers expects, in the data dir.
LINKS_DIR = "checkpoint-links"


#: Held while torch modules are built or changed in place (a model loaded, a LoRA or an
#: embedding added). Loading patches torch process-wide (accelerate's ``init_empty_weights``
#: makes every new parameter a meta tensor): a module built meanwhile in another thread, such as
#: an embedding table resized while the previews' tiny autoencoder loads, would be left empty.
CONSTRUCTING = threading.RLock()


def short_reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def hub_failure(exc: BaseException, source: Source) -> str:
    """Why a hub download failed, in words a user can act on.

    diffusers reports most failures as "not cached locally" and chains the hub's own error
    underneath, so the chain is searched for the error that says what really happened."""
    from huggingface_hub import errors

    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    for error in chain:
        if isinstance(error, errors.GatedRepoError):
            return (
                "it is gated; accept its conditions on its hub page, then log in with `hf auth login` "
                "or set HF_TOKEN"
            )
        if isinstance(error, errors.RepositoryNotFoundError):
            return (
                "the hub has no such repository (misspelt? a private one needs `hf auth login` or HF_TOKEN)"
            )
        if isinstance(error, errors.RevisionNotFoundError):
            return f"the hub has no revision {source.revision or 'main'!r} of it"
        if isinstance(error, errors.RemoteEntryNotFoundError) and "model_index.json" in str(error):
            return "it is not a diffusers pipeline (the repository has no model_index.json)"
        if isinstance(error, (errors.OfflineModeIsEnabled, ConnectionError)) or type(error).__name__ in (
            "ConnectError",
            "ConnectTimeout",
        ):
            return (
                "the hub could not be reached (offline, or HF_HUB_OFFLINE=1) and it is not in the local cache"
            )
    return short_reason(exc)


def load_failure(what: str, source: Source, exc: BaseException, how: str) -> ModelUnavailable:
    """The error for ``what`` (e.g. ``model 'x'``) that ``exc`` stopped from loading, ending with
    ``how`` to provide it."""
    why = hub_failure(exc, source) if source.kind == "hub" else short_reason(exc)
    return ModelUnavailable(f"{what} could not be loaded ({why}). {how}")


def private_dir(settings: Any, name: str) -> Path:
    """``<data dir>/<name>``, created private (0700) and refused unless this user owns it: files
    put there are read as model weights, so no other account may place or swap them."""
    from opendream.settings import default_data_dir

    folder = Path(getattr(settings, "data_dir", None) or default_data_dir()) / name
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.lstat()
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022 or folder.is_symlink()):
        raise ModelUnavailable(
            f"{folder} is not a private folder of this user (owner, permissions or a symlink); "
            "remove it and try again"
        )
    return folder


def link_with_suffix(path: Path, suffix: str, folder: Path) -> Path:
    """``path`` itself when its suffix is exactly ``suffix``; else a symlink in ``folder`` that has it.

    diffusers picks its checkpoint reader by the (case-sensitive) extension, so a safetensors
    file named ``.SafeTensors`` would otherwise be handed to ``torch.load``."""
    if path.name.endswith(suffix):
        return path
    import hashlib

    link = folder / (hashlib.sha256(str(path).encode()).hexdigest()[:24] + suffix)
    if not (link.is_symlink() and os.readlink(link) == str(path)):
        tmp = link.with_name(link.name + f".{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(path)
        tmp.replace(link)
    return link


def watch_download(repo: str, progress: DownloadProgress | None, fetch: Callable[[], T]) -> T:
    """``fetch()`` (which downloads ``repo`` into the standard HF cache), reporting bytes received
    by watching the cache folder while it runs. ``progress`` may raise (a cancel) to stop waiting."""
    if progress is None:
        return fetch()
    from huggingface_hub import constants

    repo_dir = Path(constants.HF_HUB_CACHE) / ("models--" + repo.replace("/", "--")) / "blobs"
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = fetch()
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=run, name=f"download {repo}", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.5)
        try:
            done = sum(p.stat().st_size for p in repo_dir.iterdir()) if repo_dir.is_dir() else 0
        except OSError:
            done = 0
        progress(done, 0)
    if "error" in result:
        raise result["error"]
    return result["value"]
