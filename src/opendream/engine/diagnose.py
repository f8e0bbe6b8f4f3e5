"""Say what went wrong when an extension meets an environment it was not written for: a module
that is not installed (which package, and the exact command that installs it), or a library
call that its installed version no longer has (which call, which library, which version)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import linecache
import re
import types
from pathlib import Path

from opendream.engine import dependencies

_DOTTED = re.compile(r"(?<![\w.])([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*)+)")
# Error classes libraries raise from shims of APIs they dropped (openai: APIRemovedInV1).
_REMOVED = re.compile(r"Removed|NoLongerSupported|Deprecat")


def _distribution(module: str) -> tuple[str, str] | None:
    """(distribution, version) that installed the top-level ``module``; ``None`` for the
    standard library and modules no distribution claims."""
    names = importlib.metadata.packages_distributions().get(module.split(".")[0])
    if not names:
        return None
    version = dependencies.installed_version(names[0])
    return (names[0], version) if version else None


def missing_module(exc: ModuleNotFoundError, extension: str | None, file: str | None) -> str | None:
    """For an import that failed: the package to install and the commands that install it
    into Opendream's environment (``extension``: the user extension ``deps`` can install for),
    or which version lacks the submodule."""
    module = exc.name or ""
    top = module.split(".")[0]
    if not top:
        return None
    try:
        present = importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        present = False
    if present:
        found = _distribution(top)
        if found is None:
            return None
        dist, version = found
        return (
            f"module `{module}` does not exist in {dist} {version}; the extension was written for "
            f"another version of {dist}"
        )
    requirements = None
    if file is not None:
        try:
            requirements = dependencies.declared(Path(file).read_text("utf-8", errors="replace"))
        except (OSError, dependencies.MetadataError):
            requirements = None
    requirement = dependencies.requirement_for(top, requirements)
    deps = f" or `opendream extensions deps {extension} --install`" if extension else ""
    return (
        f"needs the Python package `{requirement}` (module `{top}` is not installed); install it into "
        f"Opendream's environment with `{dependencies.shell_command([requirement])}`{deps}"
    )


def _last_frame_in(exc: BaseException, file: str) -> tuple[types.FrameType, int, str] | None:
    """The last frame of ``file`` in the traceback, its line, and the module it called into."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == file:
            callee = tb.tb_next.tb_frame.f_globals.get("__name__", "") if tb.tb_next else ""
            found = tb.tb_frame, tb.tb_lineno, callee
        tb = tb.tb_next
    return found


def _unresolvable(module: types.ModuleType, attributes: list[str]) -> BaseException | None:
    """The error resolving ``module.a.b`` raises now, if it does."""
    value: object = module
    for attribute in attributes:
        try:
            value = getattr(value, attribute)
        except Exception as failure:
            return failure
    return None


def removed_api(exc: BaseException, file: str) -> str | None:
    """When ``exc`` comes from a library API that the failing line of ``file`` uses and that the
    installed version no longer has (``openai.Image.create`` since openai 1.0): which call, in
    which distribution and version. Proved by re-resolving the dotted name (an AttributeError),
    or by the library itself raising an error whose class says the API was removed (openai's
    ``APIRemovedInV1``); any other failure on that line is left alone."""
    found = _last_frame_in(exc, file)
    if found is None:
        return None
    frame, lineno, callee = found
    line = linecache.getline(file, lineno)
    for match in _DOTTED.finditer(line):
        root = match.group(1)
        value = frame.f_locals.get(root, frame.f_globals.get(root))
        if not isinstance(value, types.ModuleType):
            continue
        dist = _distribution(value.__name__)
        if dist is None:  # the standard library does not change under an extension
            continue
        failure = _unresolvable(value, match.group(2)[1:].split("."))
        unresolved = failure is not None and (isinstance(exc, AttributeError) or type(failure) is type(exc))
        top = value.__name__.split(".")[0]
        removed = _REMOVED.search(type(exc).__name__) and callee.split(".")[0] == top
        if unresolved or removed:
            return (
                f"`{match.group(0)}` no longer exists in {dist[0]} {dist[1]} "
                f"({Path(file).name}:{lineno}); the extension was written for an older "
                f"{dist[0]}: update it to the current API, or install the {dist[0]} version "
                "it was written for"
            )
    return None


def explain(exc: BaseException, extension: str | None, file: str) -> str | None:
    """A message for a failure the environment explains, else ``None``. ``extension`` names a
    user extension (``opendream extensions deps`` installs what it needs)."""
    if isinstance(exc, ModuleNotFoundError):
        return missing_module(exc, extension, file)
    return removed_api(exc, file)
