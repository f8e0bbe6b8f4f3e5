"""Loads ops: the built-in modules, the bundled extensions, the extensions installed as
packages (entry points of the ``opendream`` group) and every ``*.py`` file in the user's
extension folders; reloads the files on request or when they change.

A broken extension is recorded with its error and never stops the others from loading."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from opendream.core.errors import OpDefinitionError
from opendream.core.registry import BUILTIN, REGISTRY, OpRegistry
from opendream.engine import dependencies, diagnose

log = logging.getLogger(__name__)

BUILTIN_MODULES = (
    "opendream.ops.sources",
    "opendream.ops.masks",
    "opendream.ops.compose",
    "opendream.diffusion.ops",
)
#: Extensions shipped in the package. They use only the public op API, exactly like
#: third-party ones, and are listed (with their error, if any) under their own names.
BUNDLED_EXTENSIONS = (
    "opendream.extensions.controlnet",
    "opendream.extensions.instruct_pix2pix",
    "opendream.extensions.dalle",
    "opendream.extensions.serverless",
    "opendream.extensions.sam",
    "opendream.extensions.openpose",
)
#: The entry-point group an installed package declares its extension modules in, as pytest
#: and Datasette plugins do: ``[project.entry-points.opendream] my_ext = "my_package.ops"``.
ENTRY_POINT_GROUP = "opendream"


@dataclass
class ExtensionStatus:
    """One extension as loaded: its ops, its load error, and the packages it needs that are not
    installed (``missing``: requirements, as ``opendream extensions deps NAME`` lists them)."""

    name: str
    source: str
    ops: list[str] = field(default_factory=list)
    error: str | None = None
    missing: list[str] = field(default_factory=list)


def _describe(exc: BaseException, source: str, extension: str | None = None) -> str:
    if isinstance(exc, OpDefinitionError):
        return exc.message
    if isinstance(exc, SyntaxError):
        return f"{source}:{exc.lineno}: syntax error: {exc.msg}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == source]
    where = f"{source}:{frames[-1].lineno}: " if frames else f"{source}: "
    explained = diagnose.explain(exc, extension, source) if extension else None
    return f"{where}{explained or f'{type(exc).__name__}: {exc}'}"


def _ops_of(registry: OpRegistry, file: str) -> list[str]:
    """The ops ``file`` defines, including one whose override is switched off."""
    return sorted(s.name for s in registry.all_specs() if s.file == file)


def load_builtin_ops(registry: OpRegistry = REGISTRY) -> list[ExtensionStatus]:
    """The built-in op modules, then the bundled extensions; one status each."""
    statuses = []
    for module_name in BUILTIN_MODULES:
        status = ExtensionStatus(name=module_name, source=module_name)
        before = set(registry.ops)
        try:
            with registry.origin(BUILTIN):
                importlib.import_module(module_name)
        except Exception as exc:
            status.error = f"{module_name}: {type(exc).__name__}: {exc}"
            log.warning("built-in ops %s failed to load: %s", module_name, status.error)
        status.ops = sorted(set(registry.ops) - before) or sorted(
            s.name for s in registry.all_specs() if s.func.__module__.startswith(module_name)
        )
        statuses.append(status)
    return statuses + load_bundled_extensions(registry)


def load_bundled_extensions(
    registry: OpRegistry = REGISTRY, *, reload: bool = False
) -> list[ExtensionStatus]:
    """Import each bundled extension (re-execute it with ``reload``); errors are captured per module."""
    statuses = []
    for module_name in BUNDLED_EXTENSIONS:
        name = module_name.rsplit(".", 1)[1]
        found = importlib.util.find_spec(module_name)
        file = str(Path(found.origin).resolve()) if found and found.origin else module_name
        status = ExtensionStatus(name=name, source=module_name)
        try:
            with registry.origin(name):
                module = sys.modules.get(module_name)
                if module is not None and reload:
                    registry.unregister_file(file)
                    importlib.reload(module)
                else:
                    importlib.import_module(module_name)
        except Exception as exc:
            registry.unregister_file(file)
            status.error = _describe(exc, file)
            log.warning("bundled extension %s failed to load: %s", name, status.error)
        status.ops = sorted(s.name for s in registry.all_specs() if s.func.__module__ == module_name)
        statuses.append(status)
    return statuses


def load_installed_extensions(registry: OpRegistry = REGISTRY) -> list[ExtensionStatus]:
    """Import the module each ``opendream`` entry point names (packages installed with pip), in
    name order. Their ops are the user's, as a file's are: they may override built-in ones."""
    statuses = []
    for entry in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        package = f"{entry.dist.name} {entry.dist.version}" if entry.dist else "an installed package"
        status = ExtensionStatus(name=entry.name, source=f"{entry.value} ({package})")
        try:
            with registry.origin(entry.name, user=True):
                entry.load()
        except Exception as exc:  # one broken package never stops the others
            status.error = f"{entry.value} ({package}): {type(exc).__name__}: {exc}"
            log.warning("installed extension %s failed to load: %s", entry.name, status.error)
        else:
            # Its module's file, like an extension file's: what its ops and overrides name.
            status.source = str(Path(sys.modules[entry.module].__file__ or entry.module).resolve())
            status.ops = sorted(
                s.name
                for s in registry.all_specs()
                if s.func.__module__ == entry.module or s.func.__module__.startswith(f"{entry.module}.")
            )
        statuses.append(status)
    return statuses


def load_extension_file(path: Path, registry: OpRegistry = REGISTRY) -> ExtensionStatus:
    """Import one extension file as module ``opendream_ext_<stem>``; its ops are attributed to it
    and override built-in or bundled ops of the same names. The packages it needs (PEP 723
    inline metadata, else its imports) that are not installed are listed in ``missing``."""
    source = str(path.resolve())
    status = ExtensionStatus(name=path.stem, source=source)
    module_name = f"opendream_ext_{path.stem}"
    registry.unregister_file(source)
    try:
        status.missing = dependencies.needs(path).to_install
        spec = importlib.util.spec_from_file_location(module_name, source)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {source}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        with registry.origin(path.stem, user=True):
            spec.loader.exec_module(module)
    except dependencies.MetadataError as exc:  # found before anything ran
        status.error = f"{source}: inline metadata: {exc}"
        log.warning("extension %s not loaded: %s", path.name, status.error)
    except BaseException as exc:  # an extension may even call sys.exit; keep the server alive
        if isinstance(exc, KeyboardInterrupt):
            raise
        sys.modules.pop(module_name, None)
        registry.unregister_file(source)
        status.error = _describe(exc, source, path.stem)
        log.warning("extension %s failed to load: %s", path.name, status.error)
    if status.missing and status.error is None:
        log.warning("extension %s needs packages that are not installed: %s", path.name, status.missing)
    status.ops = _ops_of(registry, source)
    return status


def load_extension_dirs(folders: list[Path], registry: OpRegistry = REGISTRY) -> list[ExtensionStatus]:
    statuses = []
    for folder in folders:
        if folder.is_dir():
            for path in sorted(folder.glob("*.py")):
                if not path.name.startswith("_"):
                    statuses.append(load_extension_file(path, registry))
    return statuses


def _extension_files(folders: list[Path]) -> dict[Path, tuple[int, int]]:
    """``{file: (mtime_ns, size)}`` of every loadable extension file in ``folders``."""
    files = {}
    for folder in folders:
        if folder.is_dir():
            for path in sorted(folder.glob("*.py")):
                if not path.name.startswith("_"):
                    try:
                        stat = path.stat()
                    except OSError:  # removed between glob and stat
                        continue
                    files[path.resolve()] = (stat.st_mtime_ns, stat.st_size)
    return files


def reload_extensions(folders: list[Path], registry: OpRegistry = REGISTRY) -> list[ExtensionStatus]:
    """Re-execute the bundled extensions and every extension file (on request, e.g. a "reload"
    button); ops of extension files that were deleted are unregistered."""
    statuses = load_bundled_extensions(registry, reload=True)
    present = _extension_files(folders)
    roots = [folder.resolve() for folder in folders]
    for spec_file in {s.file for s in registry.all_specs()}:
        path = Path(spec_file)
        if any(path.parent == root for root in roots) and path not in present:
            registry.unregister_file(spec_file)
    return statuses + [load_extension_file(path, registry) for path in present]


@dataclass
class ReloadResult:
    """What one ``ExtensionWatcher.poll`` did: files (re)loaded, and files removed (their ops dropped)."""

    loaded: list[ExtensionStatus] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.loaded or self.removed)


class ExtensionWatcher:
    """Reloads extension files that changed since the last poll (mtime or size), loads new ones
    and drops the ops of deleted ones. Call ``poll()`` periodically while serving."""

    def __init__(self, folders: list[Path], registry: OpRegistry = REGISTRY) -> None:
        self.folders = list(folders)
        self.registry = registry
        self._seen = _extension_files(self.folders)

    def poll(self) -> ReloadResult:
        current = _extension_files(self.folders)
        result = ReloadResult()
        for path in sorted(set(self._seen) - set(current)):
            self.registry.unregister_file(str(path))
            sys.modules.pop(f"opendream_ext_{path.stem}", None)
            result.removed.append(str(path))
        for path, state in current.items():
            if self._seen.get(path) != state:
                result.loaded.append(load_extension_file(path, self.registry))
        self._seen = current
        return result
