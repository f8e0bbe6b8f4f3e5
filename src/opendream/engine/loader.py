"""Loads ops: the built-in modules and every ``*.py`` file in the user's extension folders.

A broken extension is recorded with its error and never stops the others from loading."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from opendream.core.errors import OpDefinitionError
from opendream.core.registry import REGISTRY, OpRegistry

log = logging.getLogger(__name__)

BUILTIN_MODULES = (
    "opendream.ops.sources",
    "opendream.ops.masks",
    "opendream.ops.compose",
    "opendream.diffusion.ops",
)


@dataclass
class ExtensionStatus:
    name: str
    source: str
    ops: list[str] = field(default_factory=list)
    error: str | None = None


def _describe(exc: BaseException, source: str) -> str:
    if isinstance(exc, OpDefinitionError):
        return exc.message
    if isinstance(exc, SyntaxError):
        return f"{source}:{exc.lineno}: syntax error: {exc.msg}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == source]
    where = f"{source}:{frames[-1].lineno}: " if frames else f"{source}: "
    return f"{where}{type(exc).__name__}: {exc}"


def load_builtin_ops(registry: OpRegistry = REGISTRY) -> list[ExtensionStatus]:
    statuses = []
    for module_name in BUILTIN_MODULES:
        status = ExtensionStatus(name=module_name, source=module_name)
        before = set(registry.ops)
        try:
            with registry.origin("builtin"):
                importlib.import_module(module_name)
        except Exception as exc:
            status.error = f"{module_name}: {type(exc).__name__}: {exc}"
            log.warning("built-in ops %s failed to load: %s", module_name, status.error)
        status.ops = sorted(set(registry.ops) - before) or sorted(
            n for n, s in registry.ops.items() if s.func.__module__.startswith(module_name)
        )
        statuses.append(status)
    return statuses


def load_extension_file(path: Path, registry: OpRegistry = REGISTRY) -> ExtensionStatus:
    """Import one extension file as module ``opendream_ext_<stem>``; its ops are attributed to it."""
    source = str(path.resolve())
    status = ExtensionStatus(name=path.stem, source=source)
    module_name = f"opendream_ext_{path.stem}"
    registry.unregister_file(source)
    try:
        spec = importlib.util.spec_from_file_location(module_name, source)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {source}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        with registry.origin(path.stem):
            spec.loader.exec_module(module)
    except BaseException as exc:  # an extension may even call sys.exit; keep the server alive
        if isinstance(exc, KeyboardInterrupt):
            raise
        sys.modules.pop(module_name, None)
        registry.unregister_file(source)
        status.error = _describe(exc, source)
        log.warning("extension %s failed to load: %s", path.name, status.error)
    status.ops = sorted(n for n, s in registry.ops.items() if s.file == source)
    return status


def load_extension_dirs(folders: list[Path], registry: OpRegistry = REGISTRY) -> list[ExtensionStatus]:
    statuses = []
    for folder in folders:
        if folder.is_dir():
            for path in sorted(folder.glob("*.py")):
                if not path.name.startswith("_"):
                    statuses.append(load_extension_file(path, registry))
    return statuses
