"""Where a model comes from: a Hugging Face repo id, a local diffusers folder, or a single file.

Nothing here imports torch. Files are classified by their *content* (magic bytes), never by
the case of their extension, so ``model.SafeTensors`` is read as safetensors and a pickle
renamed ``.safetensors`` is still recognised as a pickle."""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from opendream.core.errors import ModelUnavailable
from opendream.models import DIFFUSERS_FORM, get_role

SourceKind = Literal["hub", "folder", "safetensors", "pickle"]
TINY_MARKER = ".opendream-tiny.json"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
_CONFIG_SUFFIXES = (".json", ".txt", ".yaml", ".yml")


@dataclass(frozen=True)
class Source:
    """A resolved model source. ``location`` is a repo id for ``hub``, else an absolute path."""

    kind: SourceKind
    location: str
    revision: str | None = None

    @property
    def name(self) -> str:
        return self.location


def how_to_provide(model: str, role: str | None = None) -> str:
    """The sentence every "model unavailable" message ends with."""
    declared = get_role(role) if role else None
    env = declared.env if declared else "OPENDREAM_<ROLE>_MODEL"
    form = declared.form if declared else DIFFUSERS_FORM
    download = f"`huggingface-cli download {model if _HUB_ID.match(model) else '<repo id>'}`"
    if declared is not None and not declared.default:  # a role with no default model (LoRAs)
        return f"Provide it as {form}, or download it with {download}."
    return (
        f"Provide it as {form}, or download it with {download} "
        f"(then set {env} to the repo id, folder or file), or start with --tiny-models for offline tests."
    )


def sniff_file(path: Path) -> Literal["safetensors", "pickle", "unknown"]:
    """Classify a checkpoint file by its first bytes.

    safetensors: an 8-byte little-endian header length followed by a JSON object.
    pickle: a pickle protocol opcode (``\\x80``) or a zip archive (``torch.save``'s format)."""
    with path.open("rb") as f:
        head = f.read(9)
    if len(head) >= 9:
        (header_len,) = struct.unpack("<Q", head[:8])
        if 2 <= header_len <= 100_000_000 and head[8:9] == b"{" and header_len + 8 <= path.stat().st_size:
            return "safetensors"
    if head[:1] == b"\x80" or head[:4] == b"PK\x03\x04":
        return "pickle"
    return "unknown"


def resolve_source(model: str, *, revision: str | None = None, role: str | None = None) -> Source:
    """Turn a user-given model string into a ``Source`` or raise ``ModelUnavailable``.

    An existing path is a folder (must hold ``model_index.json`` or ``config.json``) or a file
    (classified by content). Anything else must look like a hub repo id (``owner/name``)."""
    if not model or not model.strip():
        raise ModelUnavailable("no model given; " + how_to_provide("<repo id>", role))
    model = model.strip()
    path = Path(os.path.expanduser(model))
    looks_like_path = path.is_absolute() or model.startswith((".", "~")) or path.exists()
    if path.is_dir():
        if not ((path / "model_index.json").is_file() or (path / "config.json").is_file()):
            raise ModelUnavailable(
                f"model folder {str(path)!r} is not a diffusers folder (no model_index.json or config.json). "
                + how_to_provide(model, role)
            )
        return Source("folder", str(path.resolve()))
    if path.is_file():
        kind = sniff_file(path)
        if kind == "unknown":
            raise ModelUnavailable(
                f"model file {str(path)!r} is neither a safetensors nor a PyTorch checkpoint. "
                + how_to_provide(model, role)
            )
        return Source(kind, str(path.resolve()))
    if looks_like_path or not _HUB_ID.match(model):
        raise ModelUnavailable(
            f"model {model!r} not found: no such folder or file. " + how_to_provide(model, role)
        )
    return Source("hub", model, revision)


def model_roots(settings: Any) -> list[Path]:
    """The folders a model named by a workflow file may come from: ``OPENDREAM_MODEL_DIRS``,
    ``<data dir>/models``, the tiny models' folder and the Hugging Face cache."""
    data_dir = Path(getattr(settings, "data_dir", ".") or ".")
    roots = [*getattr(settings, "model_dirs", []), data_dir / "models"]
    roots.append(Path(getattr(settings, "tiny_models_dir", None) or data_dir / "tiny-models"))
    try:
        from huggingface_hub import constants

        roots.append(Path(constants.HF_HUB_CACHE))
    except ImportError:
        pass
    return [Path(os.path.abspath(os.path.expanduser(root))) for root in roots]


def resolve_confined(
    model: str, roots: list[Path], *, revision: str | None = None, role: str | None = None
) -> Source:
    """``resolve_source`` for a model a workflow file names: a path inside ``roots``, a name
    relative to one of them, or a hub repo id. Anything else gets the same answer whether or not
    it exists, and is never looked at: a file must not learn what is on this disk."""
    model = (model or "").strip()
    refused = ModelUnavailable(
        f"model {model!r} is not in the model folders: a workflow file may name a model inside "
        "OPENDREAM_MODEL_DIRS (also <data dir>/models) or the Hugging Face cache, by a path inside "
        "them or a name relative to one, or a hub repo id. " + how_to_provide(model, role)
    )
    if not model or "\0" in model or model.startswith("~") or ".." in Path(model).parts:
        raise refused
    if os.path.isabs(model):
        path = Path(os.path.normpath(model))
        if not any(path.is_relative_to(root) for root in roots):
            raise refused
        return resolve_source(str(path), revision=revision, role=role)
    for root in roots:
        if (root / model).exists():
            return resolve_source(str(root / model), revision=revision, role=role)
    if _HUB_ID.match(model):
        return Source("hub", model, revision)
    raise refused


def _folder_fingerprint(root: Path) -> str:
    """sha256 over config contents and (path, size, mtime) of every other file."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(".") or "/." in rel:
            continue
        stat = path.stat()
        digest.update(rel.encode() + b"\0")
        if path.suffix in _CONFIG_SUFFIXES and stat.st_size < 1_000_000:
            digest.update(path.read_bytes())
        else:
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def cached_snapshot(repo_id: str, revision: str | None = None) -> Path | None:
    """The folder of ``repo_id`` at ``revision`` in the local Hugging Face cache, if it is there.
    Read from the cache's layout only: no hub client call, so nothing can reach the network."""
    try:
        from huggingface_hub import constants
    except ImportError:
        return None
    repo = Path(constants.HF_HUB_CACHE) / ("models--" + repo_id.replace("/", "--"))
    ref = repo / "refs" / (revision or "main")
    try:
        commit = ref.read_text("utf-8").strip() if ref.is_file() else (revision or "main")
    except OSError:
        return None
    snapshot = repo / "snapshots" / commit
    return snapshot if commit and "/" not in commit and snapshot.is_dir() else None


def hub_cached_revision(repo_id: str, revision: str | None = None) -> str | None:
    """The commit hash of ``repo_id`` in the local Hugging Face cache, if it is there (no network)."""
    snapshot = cached_snapshot(repo_id, revision)
    return snapshot.name if snapshot is not None else None


def _tiny_identity(folder: Path) -> dict[str, Any] | None:
    """The content identity ``opendream.diffusion.tiny`` recorded for ``folder``, if its marker
    still vouches for the files: each listed file has its recorded size and was not modified
    after the marker was written (a copy that keeps mtimes stays tiny; edited weights do not)."""
    marker = folder / TINY_MARKER
    try:
        data = json.loads(marker.read_text("utf-8"))
        written = marker.stat().st_mtime_ns
        files = data["files"]
        for rel, size in files.items():
            stat = (folder / rel).stat()
            if stat.st_size != size or stat.st_mtime_ns > written:
                return None
        return {"source": f"tiny:{data['kind']}", "fingerprint": data["fingerprint"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def identity(source: Source | str, revision: str | None = None) -> dict[str, Any]:
    """What names a model's exact weights, for result-cache keys.

    hub: the repo id and the resolved commit hash when cached locally (else the requested
    revision). folder: a fingerprint of configs and weight sizes/mtimes, or the content hash
    recorded by ``opendream.diffusion.tiny``. file: size, mtime and a hash of the header."""
    if isinstance(source, str):
        source = resolve_source(source, revision=revision)
    if source.kind == "hub":
        resolved = hub_cached_revision(source.location, source.revision)
        return {"source": source.location, "revision": resolved or source.revision or "main"}
    path = Path(source.location)
    if source.kind == "folder":
        return _tiny_identity(path) or {"source": str(path), "fingerprint": _folder_fingerprint(path)}
    stat = path.stat()
    digest = hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    with path.open("rb") as f:
        digest.update(f.read(1 << 20))
    return {"source": str(path), "fingerprint": digest.hexdigest()}
