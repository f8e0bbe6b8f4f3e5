"""The bundled extensions are written like third-party ones: they import only Opendream's
public modules, so whatever they need is public (and documented) for everyone."""

from __future__ import annotations

import ast
from pathlib import Path

import opendream

#: Opendream's public modules (``docs/extensions.md``, "The op toolkit").
PUBLIC = {
    "opendream",
    "opendream.fields",
    "opendream.images",
    "opendream.models",
    "opendream.pipelines",
    "opendream.secrets",
    "opendream.testing",
}
PACKAGE = Path(opendream.__file__).parent
BUNDLED = sorted((PACKAGE / "extensions").glob("*.py"))
#: ``from opendream import core`` imports a module too.
SUBMODULES = {p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}


def private_imports(path: Path) -> list[str]:
    """``file:line module`` for every import of an Opendream module that is not public."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            names = [("." * node.level) + (node.module or "")]
            if node.module == "opendream" and not node.level:
                names += [f"opendream.{a.name}" for a in node.names if a.name in SUBMODULES]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            private = name.startswith(".") or (name.split(".")[0] == "opendream" and name not in PUBLIC)
            if private:
                found.append(f"{path.name}:{node.lineno} {name}")
    return found


def test_the_bundled_extensions_import_only_public_modules() -> None:
    assert len(BUNDLED) >= 6
    assert [x for path in BUNDLED for x in private_imports(path)] == []


def test_private_imports_are_found(tmp_path: Path) -> None:
    source = tmp_path / "ext.py"
    source.write_text(
        "import opendream\nfrom opendream import Field, core\nimport opendream.core.errors\n"
        "from opendream.extensions.controlnet import canny\nfrom . import sibling\n"
        "from opendream.pipelines import run_pipeline\nimport numpy\n"
    )
    assert private_imports(source) == [
        "ext.py:2 opendream.core",
        "ext.py:3 opendream.core.errors",
        "ext.py:4 opendream.extensions.controlnet",
        "ext.py:5 .",
    ]


def test_redact_hides_every_secret_and_the_head_and_tail_of_a_long_one() -> None:
    from opendream import redact

    key = "sk-0123456789abcdefghij"
    text = f"bad key {key}; you sent sk-01234...cdefghij; token abc"
    assert redact(text, [key, "abc", None, ""]) == "bad key ***; you sent ***...***; token ***"
    assert redact("short secret", ["short"]) == "*** secret"
