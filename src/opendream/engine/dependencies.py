"""The Python packages an extension file needs: declared with PEP 723 inline metadata
(``# /// script`` … ``dependencies = [...]``) or, for files written without it (such as the
original Opendream's), found by reading their ``import`` statements. Nothing here executes the
file. ``install`` runs pip with Opendream's own interpreter; only the CLI calls it."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

# The reference implementation's regular expression (PEP 723, "Reference implementation").
_BLOCK = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")

#: Import names whose distribution is named differently (the rest are installed by their name).
DISTRIBUTIONS = {
    "controlnet_aux": "controlnet-aux",
    "segment_anything": "segment-anything",
    "cv2": "opencv-python-headless",
    "PIL": "pillow",
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "bs4": "beautifulsoup4",
    "attr": "attrs",
    "google.protobuf": "protobuf",
}


class MetadataError(ValueError):
    """An extension's inline metadata block is malformed."""


def script_metadata(source: str) -> dict | None:
    """The parsed ``# /// script`` block of ``source``; ``None`` when it has none."""
    blocks = [m for m in _BLOCK.finditer(source) if m.group("type") == "script"]
    if len(blocks) > 1:
        raise MetadataError("more than one `# /// script` block")
    if not blocks:
        return None
    content = "".join(
        line[2:] if line.startswith("# ") else line[1:]
        for line in blocks[0].group("content").splitlines(keepends=True)
    )
    try:
        return tomllib.loads(content)
    except tomllib.TOMLDecodeError as exc:
        raise MetadataError(f"the `# /// script` block is not valid TOML: {exc}") from None


def declared(source: str) -> list[Requirement] | None:
    """The ``dependencies`` of the inline metadata; ``None`` when the file declares none."""
    metadata = script_metadata(source)
    if metadata is None or "dependencies" not in metadata:
        return None
    items = metadata["dependencies"]
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        raise MetadataError("`dependencies` has to be a list of strings")
    requirements = []
    for item in items:
        try:
            requirements.append(Requirement(item))
        except InvalidRequirement as exc:
            raise MetadataError(f"dependency {item!r} is not a valid requirement: {exc}") from None
    return requirements


def distribution_for(module: str) -> str:
    """The distribution that provides the top-level module ``module`` (a best guess)."""
    for name in (module, module.split(".")[0]):
        if name in DISTRIBUTIONS:
            return DISTRIBUTIONS[name]
    return module.split(".")[0].replace("_", "-")


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether an import sits in a ``try`` that handles its failure (an optional import)."""
    while node in parents:
        parent = parents[node]
        if isinstance(parent, ast.Try) and node in parent.body:
            for handler in parent.handlers:
                names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
                if handler.type is None or any(
                    isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError", "Exception")
                    for n in names
                ):
                    return True
        node = parent
    return False


def missing_modules(source: str) -> list[str]:
    """Top-level modules the file imports (anywhere, outside optional ``try`` imports) that
    cannot be found in this environment, in the order they appear."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    missing: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in missing or _guarded(node, parents):
                continue
            try:
                found = importlib.util.find_spec(top)
            except (ImportError, ValueError):
                found = None
            if found is None:
                missing.append(top)
    return missing


def installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def satisfied(requirement: Requirement) -> bool:
    """Installed in a version the requirement accepts (or not needed on this platform)."""
    if requirement.marker is not None and not requirement.marker.evaluate():
        return True
    version = installed_version(requirement.name)
    return version is not None and requirement.specifier.contains(version, prereleases=True)


@dataclass
class Needs:
    """What one extension file needs: ``declared`` (its inline metadata, or ``None``), the
    ``missing`` requirements to install, and ``undeclared`` imported modules that cannot be
    found although the metadata does not name them."""

    declared: list[Requirement] | None
    missing: list[Requirement]
    undeclared: list[str]

    @property
    def to_install(self) -> list[str]:
        return [str(r) for r in self.missing]


def needs(path: Path) -> Needs:
    """Declared requirements that are not satisfied; without inline metadata, a requirement
    for each imported module that cannot be found. Raises ``MetadataError``."""
    source = path.read_text("utf-8", errors="replace")
    requirements = declared(source)
    modules = missing_modules(source)
    if requirements is None:
        return Needs(None, [Requirement(distribution_for(m)) for m in modules], [])
    names = {canonicalize_name(r.name) for r in requirements}
    undeclared = [m for m in modules if canonicalize_name(distribution_for(m)) not in names]
    return Needs(requirements, [r for r in requirements if not satisfied(r)], undeclared)


def pip_command(requirements: list[str]) -> list[str]:
    """pip of the interpreter Opendream runs in, so packages land in Opendream's environment."""
    return [sys.executable, "-m", "pip", "install", *requirements]


def shell_command(requirements: list[str]) -> str:
    return shlex.join(pip_command(requirements))


def install(requirements: list[str]) -> int:
    """Run pip (CLI only: never reachable over HTTP). Returns pip's exit status."""
    return subprocess.run(pip_command(requirements), check=False).returncode


def requirement_for(module: str, requirements: list[Requirement] | None) -> str:
    """What to install for a missing ``module``: the declared requirement that provides it, else
    its distribution's name."""
    dist = distribution_for(module)
    for requirement in requirements or []:
        if canonicalize_name(requirement.name) == canonicalize_name(dist):
            return str(requirement)
    return dist
