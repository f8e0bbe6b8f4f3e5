"""Which user overrides are switched off: an op named here runs its built-in (or bundled) version
although a user's extension file defines one of the same name. Kept in
``<extensions>/overrides.json`` (``{"use_builtin": ["dream"]}``) so the choice survives restarts,
and the extension file itself stays where the user put it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from opendream.core.errors import OpendreamError
from opendream.core.registry import OpRegistry
from opendream.settings import Settings
from opendream.storage.files import atomic_write

log = logging.getLogger(__name__)
FILE = "overrides.json"


class NotOverridden(OpendreamError):
    """Asked to switch an override that no user extension provides."""

    status = 404


def _path(settings: Settings) -> Path:
    return settings.extensions_dir / FILE


def read(settings: Settings) -> set[str]:
    """The ops whose override is switched off; an unreadable file switches none off (and says so)."""
    path = _path(settings)
    if not path.is_file():
        return set()
    try:
        names = json.loads(path.read_text("utf-8")).get("use_builtin", [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError("`use_builtin` has to be a list of op names")
    except (OSError, ValueError, AttributeError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return set()
    return set(names)


def apply(settings: Settings, registry: OpRegistry) -> None:
    registry.set_use_builtin(read(settings))


def use_builtin(settings: Settings, registry: OpRegistry, op: str, on: bool) -> None:
    """Run the built-in ``op`` (``on``) or the user's override of it again, and remember it."""
    if not any(s.name == op for s in registry.overriding()):
        raise NotOverridden(f"no extension overrides an op named {op!r}; nothing to switch")
    names = (registry.use_builtin | {op}) if on else (registry.use_builtin - {op})
    atomic_write(_path(settings), json.dumps({"use_builtin": sorted(names)}, indent=2).encode())
    registry.set_use_builtin(names)


def listing(registry: OpRegistry, source: str) -> list[dict]:
    """The overrides the extension file ``source`` makes: the op, what it replaces (``"builtin"``
    or a bundled extension) and whether it is the one that runs."""
    return [
        {
            "op": spec.name,
            "replaces": spec.overrides.extension,
            "active": registry.ops.get(spec.name) is spec,
        }
        for spec in sorted(registry.overriding(), key=lambda s: s.name)
        if spec.file == source and spec.overrides is not None
    ]
