"""The extension loader: bundled extensions listed with their ops and errors, reload on request,
reload on file change, broken files listed without stopping the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from opendream.core.registry import OpRegistry
from opendream.engine import loader
from opendream.engine.loader import ExtensionWatcher, load_bundled_extensions, reload_extensions

EXTENSION = """
import opendream
from opendream import ImageLayer


@opendream.op(title="{title}")
def {name}(image: ImageLayer) -> ImageLayer:
    return image
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "extensions"
    folder.mkdir()
    return folder


def write(folder: Path, stem: str, name: str, title: str = "First") -> Path:
    path = folder / f"{stem}.py"
    path.write_text(EXTENSION.format(name=name, title=title))
    return path


def test_every_bundled_extension_is_listed_with_its_ops() -> None:
    statuses = {s.name: s for s in load_bundled_extensions()}
    assert {name: s.ops for name, s in statuses.items()} == {
        "controlnet": ["canny_edges", "controlnet_canny"],
        "instruct_pix2pix": ["instruct_pix2pix"],
        "dalle": ["dalle"],
        "serverless": ["serverless"],
        "sam": ["sam"],
        "openpose": ["controlnet_openpose", "detect_pose"],
    }
    assert all(s.error is None for s in statuses.values())
    assert all(s.source == f"opendream.extensions.{s.name}" for s in statuses.values())


def test_a_broken_bundled_module_is_listed_with_its_error_and_the_rest_load(monkeypatch) -> None:
    monkeypatch.setattr(
        loader, "BUNDLED_EXTENSIONS", ("opendream.extensions.no_such_thing", "opendream.extensions.dalle")
    )
    broken, dalle = load_bundled_extensions()
    assert broken.name == "no_such_thing" and "ModuleNotFoundError" in broken.error and broken.ops == []
    assert dalle.error is None and dalle.ops == ["dalle"]


def test_bundled_reload_re_executes_and_keeps_the_ops(ops: OpRegistry) -> None:
    before = ops.get("serverless").func
    statuses = {s.name: s for s in load_bundled_extensions(ops, reload=True)}
    assert statuses["serverless"].ops == ["serverless"] and statuses["serverless"].error is None
    assert ops.get("serverless").func is not before, "the module ran again"
    assert ops.get("serverless").extension == "serverless"


def test_reload_on_request_picks_up_edits_new_and_deleted_files(folder: Path, ops: OpRegistry) -> None:
    first = write(folder, "ext_a", "t_reload_a")
    statuses = {s.name: s for s in reload_extensions([folder], ops)}
    assert statuses["ext_a"].ops == ["t_reload_a"] and "controlnet" in statuses
    write(folder, "ext_a", "t_reload_a", title="Second title")
    write(folder, "ext_b", "t_reload_b")
    statuses = {s.name: s for s in reload_extensions([folder], ops)}
    assert ops.get("t_reload_a").title == "Second title" and statuses["ext_b"].ops == ["t_reload_b"]
    first.unlink()
    reload_extensions([folder], ops)
    assert "t_reload_a" not in ops and "t_reload_b" in ops


def test_watcher_reloads_changed_files_and_survives_broken_ones(folder: Path, ops: OpRegistry) -> None:
    write(folder, "ext_w", "t_watch")
    watcher = ExtensionWatcher([folder], ops)
    assert not watcher.poll(), "nothing changed since the watcher started"

    write(folder, "ext_w", "t_watch", title="Edited while serving")
    result = watcher.poll()
    assert [s.ops for s in result.loaded] == [["t_watch"]] and ops.get(
        "t_watch"
    ).title == "Edited while serving"

    (folder / "ext_bad.py").write_text("import opendream\n\ndef broken(:\n")
    write(folder, "ext_new", "t_watch_new")
    result = watcher.poll()
    errors = {s.name: s.error for s in result.loaded}
    assert "syntax error" in errors["ext_bad"] and errors["ext_new"] is None
    assert "t_watch" in ops and "t_watch_new" in ops, "a broken file stops nothing else"

    (folder / "ext_w.py").unlink()
    result = watcher.poll()
    assert result.removed == [str((folder / "ext_w.py").resolve())] and "t_watch" not in ops
    assert not watcher.poll()


def test_a_user_file_overrides_a_bundled_op_and_a_reload_keeps_it(folder: Path, ops: OpRegistry) -> None:
    path = write(folder, "ext_clash", "controlnet_canny")
    (status,) = reload_extensions([folder], ops)[-1:]
    assert status.ops == ["controlnet_canny"] and status.error is None
    spec = ops.get("controlnet_canny")
    assert spec.extension == "ext_clash" and spec.overrides.extension == "controlnet"
    statuses = {s.name: s for s in reload_extensions([folder], ops)}  # the bundled one re-registers beneath
    assert statuses["controlnet"].ops == ["canny_edges", "controlnet_canny"]
    assert ops.get("controlnet_canny").extension == "ext_clash"
    path.unlink()
    reload_extensions([folder], ops)
    assert ops.get("controlnet_canny").extension == "controlnet"
