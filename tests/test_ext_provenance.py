"""A workflow records which implementation made each layer: an op a user's extension overrides
is named with what it overrides, and replaying on a machine without that override (or with one
the file did not have) reports it per layer instead of silently running another op."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from opendream.cli import app
from opendream.core import workflow
from opendream.core.registry import OpRegistry
from opendream.engine.loader import load_extension_dirs
from opendream.engine.workspace import Workspace
from tests.helpers import builtin_registry
from tests.original_fixtures import INVERT_OVERRIDE, mask_project

NOTE = "made by extension 'my_invert' (overriding the built-in `invert_mask`); here the built-in `invert_mask` runs"
REVERSE = "made by the built-in `invert_mask`; here extension 'my_invert' (overriding the built-in `invert_mask`) runs"


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[list[Path]]:
    """Extension folders whose modules to forget afterwards (their ops are in the test's
    registry and each command's own, never the global one)."""
    folders: list[Path] = []
    yield folders
    for folder in folders:
        for path in folder.glob("*.py"):
            sys.modules.pop(f"opendream_ext_{path.stem}", None)


def _cli(args: list[str]) -> Result:
    """``opendream`` run as on a machine of its own: the built-in ops, and the extensions of its
    data directory."""
    return CliRunner().invoke(app, args, obj=builtin_registry())


def _override_in(folder: Path, loaded: list[Path]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "my_invert.py").write_text(INVERT_OVERRIDE)
    loaded.append(folder)
    return folder


def _export(workspace: Workspace, path: Path) -> dict:
    project = mask_project(workspace)
    workspace.runner.run_pending(project)
    document = workspace.export_workflow(project)
    path.write_text(json.dumps(document))
    return document


def test_a_layer_made_by_an_override_records_it_and_a_machine_without_it_says_so(
    workspace: Workspace, ops: OpRegistry, tmp_path: Path, loaded: list[Path]
) -> None:
    folder = _override_in(tmp_path / "ext", loaded)
    load_extension_dirs([folder], ops)
    document = _export(workspace, tmp_path / "made.json")
    source, made = document["layers"]
    assert "extension" not in source and "overrides" not in source
    assert (made["extension"], made["overrides"]) == ("my_invert", "builtin")
    workflow.check_schema(document)
    assert workflow.parse_workflow(document, ops).notes == {}, "the same override here: nothing to say"

    ops.unregister_file(str((folder / "my_invert.py").resolve()))
    assert workflow.parse_workflow(document, ops).notes == {"L2": NOTE}

    result = _cli(["run", str(tmp_path / "made.json"), "--data-dir", str(tmp_path / "b"), "--json"])
    assert result.exit_code == 1, result.output
    layers = {x["layer"]: x for x in json.loads(result.stdout)["layers"]}
    assert layers["L2"]["result"] == "differs" and layers["L2"]["note"] == NOTE
    assert layers["L1"]["note"] is None

    # A machine with the override replays it exactly and says nothing.
    _override_in(tmp_path / "c" / "extensions", loaded)
    result = _cli(["run", str(tmp_path / "made.json"), "--data-dir", str(tmp_path / "c"), "--json"])
    assert result.exit_code == 0, result.output
    assert [(x["result"], x["note"]) for x in json.loads(result.stdout)["layers"]] == [("exact", None)] * 2


def test_a_layer_made_by_the_built_in_replayed_where_an_override_runs_says_so(
    workspace: Workspace, tmp_path: Path, loaded: list[Path]
) -> None:
    document = _export(workspace, tmp_path / "builtin.json")
    assert "extension" not in document["layers"][1]
    _override_in(tmp_path / "d" / "extensions", loaded)
    result = _cli(["run", str(tmp_path / "builtin.json"), "--data-dir", str(tmp_path / "d"), "--json"])
    layers = {x["layer"]: x for x in json.loads(result.stdout)["layers"]}
    assert layers["L2"]["result"] == "differs" and layers["L2"]["note"] == REVERSE


def test_an_imported_layer_keeps_the_files_record_of_its_maker_on_export(
    workspace: Workspace, ops: OpRegistry, tmp_path: Path
) -> None:
    document = _export(workspace, tmp_path / "x.json")
    document["layers"][1].update(extension="gone", overrides="builtin")
    imported = workflow.parse_workflow(document, ops)
    assert imported.notes["L2"].startswith("made by extension 'gone' (overriding the built-in `invert_mask`)")
    project = workspace.import_workflow(imported)
    again = workspace.export_workflow(project)["layers"][1]
    assert (again["extension"], again["overrides"]) == ("gone", "builtin")


def test_overrides_without_an_extension_is_refused_by_the_schema(
    workspace: Workspace, ops: OpRegistry, tmp_path: Path
) -> None:
    document = _export(workspace, tmp_path / "y.json")
    document["layers"][1]["overrides"] = "builtin"
    with pytest.raises(workflow.WorkflowError, match="extension"):
        workflow.parse_workflow(document, ops)
