"""The packages an extension needs: PEP 723 inline metadata (``# /// script``), else its imports;
reported when it loads; ``opendream extensions deps NAME [--install]`` shows them and installs
them with pip into the interpreter Opendream runs in, after showing exactly what it will run.
The install is tested for real: a wheel built here, installed offline into a throwaway venv."""

from __future__ import annotations

import ast
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from typer.testing import CliRunner

import opendream
from opendream.cli import app
from opendream.engine import dependencies
from opendream.engine.dependencies import MetadataError, declared, missing_modules, script_metadata

ORIGINALS = Path(__file__).parent / "fixtures" / "original_style" / "extensions"
SRC = Path(opendream.__file__).resolve().parents[1]
runner = CliRunner()

TINY_EXTENSION = """# /// script
# requires-python = ">=3.10"
# dependencies = [
#   "opendream-tinydep==1.0",
# ]
# ///
from opendream import opendream
from opendream.layer import Layer

import opendream_tinydep


@opendream.define_op
def tiny(prompt: str):
    return Layer(image=opendream_tinydep.picture())
"""


def test_inline_metadata_is_read_with_the_reference_expression() -> None:
    assert script_metadata(TINY_EXTENSION) == {
        "requires-python": ">=3.10",
        "dependencies": ["opendream-tinydep==1.0"],
    }
    assert script_metadata("import os\n") is None
    assert declared("# /// other\n# x = 1\n# ///\n") is None, "only the `script` block counts"
    assert [str(r) for r in declared(TINY_EXTENSION)] == ["opendream-tinydep==1.0"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# /// script\n# dependencies = [\n# ///\n", "not valid TOML"),
        ("# /// script\n# dependencies = 'numpy'\n# ///\n", "has to be a list of strings"),
        ("# /// script\n# dependencies = ['num py!']\n# ///\n", "is not a valid requirement"),
        ("# /// script\n# a = 1\n# ///\nx = 1\n# /// script\n# b = 2\n# ///\n", "more than one"),
    ],
)
def test_malformed_inline_metadata_is_refused(text: str, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        declared(text)


def test_versions_markers_and_imports_decide_what_is_missing(tmp_path: Path) -> None:
    assert dependencies.satisfied(Requirement("numpy>=1"))
    assert not dependencies.satisfied(Requirement("numpy<1")), "installed, but not a version it accepts"
    assert not dependencies.satisfied(Requirement("opendream-no-such-dist"))
    assert dependencies.satisfied(Requirement("opendream-no-such-dist; python_version < '3'"))
    source = (
        "import os, numpy\nfrom controlnet_aux import CannyDetector\nfrom . import sibling\n"
        "try:\n    import xformers\nexcept ImportError:\n    xformers = None\n"
        "def f():\n    import segment_anything.utils\n"
    )
    assert missing_modules(source) == ["controlnet_aux", "segment_anything"]

    path = tmp_path / "x.py"
    path.write_text(
        "# /// script\n# dependencies = ['numpy<1', 'numpy-financial']\n# ///\nimport cv9\n" + source
    )
    needs = dependencies.needs(path)
    assert needs.to_install == ["numpy<1", "numpy-financial"] and needs.undeclared == [
        "cv9",
        "controlnet_aux",
        "segment_anything",
    ]


def _data_dir(tmp_path: Path, *files: Path, text: dict[str, str] | None = None) -> Path:
    folder = tmp_path / "data" / "extensions"
    folder.mkdir(parents=True)
    for path in files:
        shutil.copy(path, folder / path.name)
    for name, body in (text or {}).items():
        (folder / name).write_text(body)
    return tmp_path / "data"


def test_deps_names_the_package_and_the_command_for_an_original_extension(tmp_path: Path) -> None:
    data = _data_dir(tmp_path, ORIGINALS / "controlnet_canny.py", ORIGINALS / "dalle.py")
    result = runner.invoke(app, ["extensions", "deps", "controlnet_canny", "--data-dir", str(data)])
    assert result.exit_code == 1
    assert "from its imports, it needs:\n  controlnet-aux: missing\n" in result.stdout
    assert f"to install: {sys.executable} -m pip install controlnet-aux\n" in result.stdout
    assert "or: opendream extensions deps controlnet_canny --install" in result.stdout

    result = runner.invoke(app, ["extensions", "deps", "dalle", "--data-dir", str(data)])
    assert result.exit_code == 0 and "every module it imports is installed" in result.stdout


def test_deps_refuses_an_unknown_extension_and_an_install_nobody_confirmed(tmp_path: Path) -> None:
    data = _data_dir(tmp_path, ORIGINALS / "sam.py")
    result = runner.invoke(app, ["extensions", "deps", "nope", "--data-dir", str(data)])
    assert result.exit_code == 2 and "no extension 'nope'" in result.output
    result = runner.invoke(app, ["extensions", "deps", "sam", "--install", "--data-dir", str(data)])
    assert result.exit_code == 1
    assert f"will run: {sys.executable} -m pip install segment-anything" in result.stdout
    assert "nothing installed; re-run with --yes" in result.output


def _wheel(folder: Path) -> Path:
    """A minimal, valid wheel of ``opendream-tinydep`` 1.0 (module ``opendream_tinydep``)."""
    files = {
        "opendream_tinydep/__init__.py": b"from PIL import Image\n\n\ndef picture():\n"
        b"    return Image.new('RGB', (8, 8), (1, 2, 3))\n",
        "opendream_tinydep-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: opendream-tinydep\nVersion: 1.0\n",
        "opendream_tinydep-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("opendream_tinydep-1.0.dist-info/RECORD,,")
    files["opendream_tinydep-1.0.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    folder.mkdir()
    path = folder / "opendream_tinydep-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def test_deps_install_runs_pip_of_opendreams_interpreter_and_the_extension_then_loads(tmp_path: Path) -> None:
    """A throwaway venv stands in for Opendream's environment (it sees the shared packages
    through a .pth file); pip installs offline from a folder holding a wheel built here."""
    wheels = _wheel(tmp_path / "wheels").parent
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    shared = [p for p in sys.path if p.endswith("site-packages")]
    Path(site, "shared.pth").write_text("\n".join(shared) + "\n")
    data = _data_dir(tmp_path, text={"tiny.py": TINY_EXTENSION})
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }

    def cli(*args: str) -> subprocess.CompletedProcess:
        command = [python, "-m", "opendream.cli", "extensions", *args, "--data-dir", str(data)]
        return subprocess.run(command, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)

    before = cli("list", "--json")
    assert before.returncode == 0, before.stderr
    assert '"missing": [\n      "opendream-tinydep==1.0"\n    ]' in before.stdout
    assert "needs the Python package `opendream-tinydep==1.0`" in before.stdout

    result = cli("deps", "tiny", "--install", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"will run: {python} -m pip install opendream-tinydep==1.0\n" in result.stdout
    assert "installed opendream-tinydep==1.0" in result.stdout
    assert Path(site, "opendream_tinydep", "__init__.py").is_file(), "into the interpreter's environment"
    assert dependencies.installed_version("opendream-tinydep") is None, "and not into the shared one"

    after = cli("deps", "tiny")
    assert after.returncode == 0 and "opendream-tinydep==1.0: installed 1.0" in after.stdout
    listed = cli("list", "--json")
    assert '"missing": []' in listed.stdout and '"tiny"\n    ],' in listed.stdout


def test_no_http_route_installs_packages(tmp_path: Path) -> None:
    """Installing packages is for the command line only: no route reaches pip."""
    from tests.server_fixtures import make_app

    application = make_app(tmp_path / "data")
    paths = list(application.openapi()["paths"])
    assert "/api/extensions" in paths and not [p for p in paths if "dep" in p or "pip" in p]
    application.state.opendream.workspace.close()
    for path in Path(opendream.__file__).parent.rglob("*.py"):
        calls = [
            node
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Attribute)
            and node.attr == "install"
            and getattr(node.value, "id", "") == "dependencies"
        ]
        assert not calls or path.name == "cli.py", f"{path} installs packages"
