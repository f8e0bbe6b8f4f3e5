"""Extensions written for the original Opendream, dropped into the extensions folder unchanged:
they load (or name the package to install and the command that installs it), a user's op
overrides a built-in or bundled one of the same name (and can be switched back, persistently),
and a library call that no longer exists fails its layer naming the call and the version."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from opendream.core.project import Project
from opendream.core.registry import BUILTIN, OpRegistry
from opendream.engine import overrides
from opendream.engine.loader import load_extension_dirs, load_extension_file, reload_extensions
from opendream.engine.workspace import Workspace, load_ops
from opendream.settings import Settings
from tests.helpers import gradient
from tests.original_fixtures import INVERT_OVERRIDE, ORIGINALS, mask_project


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """``<data dir>/extensions``; the tests load its files into their own registry (``ops``)."""
    folder = tmp_path / "data" / "extensions"
    folder.mkdir(parents=True)
    yield folder
    for path in folder.glob("*.py"):
        sys.modules.pop(f"opendream_ext_{path.stem}", None)


def test_the_original_extension_files_load_or_name_the_package_to_install(
    folder: Path, ops: OpRegistry
) -> None:
    for path in ORIGINALS.glob("*.py"):
        shutil.copy(path, folder / path.name)
    statuses = {s.name: s for s in load_extension_dirs([folder], ops)}

    assert statuses["dalle"].error is None and statuses["dalle"].ops == ["dream"]
    assert statuses["instruct_pix2pix"].error is None
    assert statuses["instruct_pix2pix"].ops == ["instruct_pix2pix"]
    dream = ops.get("dream")
    assert dream.extension == "dalle" and dream.user and dream.overrides.extension == BUILTIN
    pix2pix = ops.get("instruct_pix2pix")
    assert pix2pix.file == str((folder / "instruct_pix2pix.py").resolve())
    assert pix2pix.overrides.extension == "instruct_pix2pix"  # the bundled one

    python = sys.executable
    for name, dist, module, line in (
        ("controlnet_canny", "controlnet-aux", "controlnet_aux", 7),
        ("controlnet_openpose", "controlnet-aux", "controlnet_aux", 7),
        ("sam", "segment-anything", "segment_anything", 6),
    ):
        status = statuses[name]
        assert status.ops == [] and status.missing == [dist]
        assert status.error == (
            f"{folder.resolve() / name}.py:{line}: needs the Python package `{dist}` (module `{module}` is "
            f"not installed); install it into Opendream's environment with `{python} -m pip install {dist}` "
            f"or `opendream extensions deps {name} --install`"
        )
        assert "ModuleNotFoundError" not in status.error

    for path in folder.glob("*.py"):
        ops.unregister_file(str(path.resolve()))
    assert ops.get("dream").extension == BUILTIN, "removing the override brings the built-in back"
    assert ops.get("instruct_pix2pix").extension == "instruct_pix2pix"


def test_two_user_files_defining_one_op_still_clash(folder: Path, ops: OpRegistry) -> None:
    for stem in ("first", "second"):
        (folder / f"{stem}.py").write_text(INVERT_OVERRIDE)
    first, second = load_extension_dirs([folder], ops)
    assert first.error is None and first.ops == ["invert_mask"]
    assert second.ops == [] and "'invert_mask' is already defined in" in second.error
    assert ops.get("invert_mask").file == str((folder / "first.py").resolve())


def test_a_user_override_runs_instead_of_the_built_in_and_can_be_switched_back(
    folder: Path, workspace: Workspace, settings: Settings, ops: OpRegistry
) -> None:
    builtin = ops.get("invert_mask")
    (folder / "my_invert.py").write_text(INVERT_OVERRIDE)
    (status,) = load_extension_dirs([folder], ops)
    override = ops.get("invert_mask")
    assert status.error is None and override is not builtin and override.overrides is builtin
    assert overrides.listing(ops, status.source) == [
        {"op": "invert_mask", "replaces": BUILTIN, "active": True}
    ]
    assert override.describe()["overrides"] == BUILTIN and builtin.describe()["overrides"] is None

    project = mask_project(workspace)
    workspace.runner.run_pending(project)
    made = workspace.data.blobs.get_image(project.layer("L2").blob)
    assert set(np.unique(np.array(made))) == {128}, "the override ran"
    assert project.layer("L2").run.made_by == {"extension": "my_invert", "overrides": BUILTIN}

    # Switching back runs the built-in, and the two never share a cache entry.
    overrides.use_builtin(settings, ops, "invert_mask", True)
    assert ops.get("invert_mask") is builtin
    assert overrides.listing(ops, status.source)[0]["active"] is False
    run = workspace.runner.run_layer(project, "L2")  # the cache is consulted
    assert run.outcome == "computed", "not the override's cached pixels"
    inverted = np.array(workspace.data.blobs.get_image(project.layer("L2").blob))
    assert inverted[0, 0] == 255 and inverted[16, 16] == 0
    assert project.layer("L2").run.made_by == {}
    assert (
        "made by extension 'my_invert' (overriding the built-in `invert_mask`)"
        in project.layer("L2").run.note
    )

    # The choice is remembered: a fresh load (a restart) keeps the built-in, and so does a reload.
    saved = json.loads((settings.extensions_dir / "overrides.json").read_text())
    assert saved == {"use_builtin": ["invert_mask"]}
    ops.set_use_builtin(set())
    load_ops(settings, ops)
    assert ops.get("invert_mask") is builtin
    reload_extensions([folder], ops)
    assert ops.get("invert_mask").file == builtin.file
    assert [s.ops for s in reload_extensions([folder], ops) if s.name == "my_invert"] == [["invert_mask"]]

    overrides.use_builtin(settings, ops, "invert_mask", False)
    assert ops.get("invert_mask").extension == "my_invert"
    assert json.loads((settings.extensions_dir / "overrides.json").read_text()) == {"use_builtin": []}


def test_switching_an_op_nobody_overrides_is_refused_and_changes_nothing(
    folder: Path, settings: Settings, ops: OpRegistry
) -> None:
    with pytest.raises(overrides.NotOverridden, match="no extension overrides an op named 'flatten'"):
        overrides.use_builtin(settings, ops, "flatten", True)
    assert not (settings.extensions_dir / "overrides.json").exists() and ops.use_builtin == set()


def test_an_unreadable_preference_file_switches_nothing_off(folder: Path, settings: Settings) -> None:
    (folder / "overrides.json").write_text('{"use_builtin": "dream"}')
    assert overrides.read(settings) == set()
    (folder / "overrides.json").write_text("not json")
    assert overrides.read(settings) == set()


def test_a_call_the_library_no_longer_has_fails_naming_the_call_and_the_version(
    folder: Path, workspace: Workspace, monkeypatch: pytest.MonkeyPatch, ops: OpRegistry
) -> None:
    """The original dalle.py calls ``openai.Image.create``, gone since openai 1.0."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    shutil.copy(ORIGINALS / "dalle.py", folder / "dalle.py")
    assert load_extension_file(folder / "dalle.py", ops).error is None
    project = Project.new("dalle", 32, 32)
    project.add_layer(ops.get("dream"), {"prompt": "a cat"}, {})
    (run,) = workspace.runner.run_pending(project)
    version = importlib.metadata.version("openai")
    assert run.outcome == "failed"
    assert run.error == (
        f"dream: `openai.Image.create` no longer exists in openai {version} (dalle.py:14); the extension "
        "was written for an older openai: update it to the current API, or install the openai version it "
        "was written for"
    )
    assert project.layer("L1").run.error == run.error


def test_a_removed_attribute_error_is_translated_and_others_are_left_alone(
    folder: Path, workspace: Workspace, ops: OpRegistry
) -> None:
    (folder / "old_numpy.py").write_text(
        "import numpy as np\nfrom opendream import opendream\nfrom opendream.layer import Layer, ImageLayer\n\n"
        "@opendream.define_op\ndef old_numpy(image_layer: ImageLayer, mode='old'):\n"
        "    if mode == 'old':\n"
        "        level = np.asscalar(np.array([3]))\n"
        "    else:\n"
        "        level = None.bit_length()\n"
        "    return Layer(image=image_layer.get_image())\n"
    )
    assert load_extension_file(folder / "old_numpy.py", ops).error is None
    project = Project.new("numpy", 32, 32)
    digest = workspace.data.blobs.put_image(gradient(32))
    project.add_layer(ops.get("load_image"), {"asset": f"sha256:{digest}"}, {})
    project.add_layer(ops.get("old_numpy"), {"mode": "old"}, {"image_layer": "L1"})
    project.add_layer(ops.get("old_numpy"), {"mode": "new"}, {"image_layer": "L1"})
    runs = {r.layer: r for r in workspace.runner.run_pending(project)}
    numpy = importlib.metadata.version("numpy")
    assert runs["L2"].error.startswith(
        f"old_numpy: `np.asscalar` no longer exists in numpy {numpy} (old_numpy.py:8)"
    )
    assert runs["L3"].error == "AttributeError: 'NoneType' object has no attribute 'bit_length'"


def test_a_module_missing_when_a_layer_runs_names_the_package(
    folder: Path, workspace: Workspace, ops: OpRegistry
) -> None:
    """The later original dalle.py imports inside the op: the layer names what to install."""
    (folder / "lazy.py").write_text(
        "# /// script\n# dependencies = ['opendream-test-absent>=2']\n# ///\n"
        "from opendream import opendream\n\n"
        "@opendream.define_op\ndef lazy(prompt: str):\n"
        "    import opendream_test_absent\n"
        "    return opendream_test_absent.render(prompt)\n"
    )
    status = load_extension_file(folder / "lazy.py", ops)
    assert status.error is None and status.missing == ["opendream-test-absent>=2"], "reported at load"
    project = Project.new("lazy", 32, 32)
    project.add_layer(ops.get("lazy"), {"prompt": "x"}, {})
    (run,) = workspace.runner.run_pending(project)
    assert run.error == (
        "lazy: needs the Python package `opendream-test-absent>=2` (module `opendream_test_absent` is not "
        f"installed); install it into Opendream's environment with `{sys.executable} -m pip install "
        "'opendream-test-absent>=2'` or `opendream extensions deps lazy --install`"
    )
