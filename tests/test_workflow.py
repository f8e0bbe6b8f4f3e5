"""Workflow files (version 2; version 1 files migrate): export, import, the assets rule, and every kind of bad input."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import jsonschema
import pytest

import opendream
from opendream import Field, ImageLayer
from opendream.core import workflow
from opendream.core.errors import OpNotFound, WorkflowError
from opendream.core.project import Project
from opendream.core.recipe import asset_ref, sha256_hex
from opendream.core.registry import REGISTRY, OpRegistry
from opendream.core.workflow import export_workflow, parse_workflow
from opendream.engine.runtime import make_runtime
from opendream.engine.workspace import Workspace
from opendream.settings import Settings
from tests.helpers import gradient, square_mask
from tests.workflow_fixtures import WF_OPS, jpeg, picture, png, sample_project

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "workflows"


def summary(project: Project) -> list[tuple]:
    return [(x.id, x.name, x.kind, x.recipe.to_dict(), x.group, x.visible, x.opacity) for x in project.layers]


@pytest.fixture
def sample() -> tuple[Project, dict]:
    project, blobs = sample_project()
    return project, blobs


@pytest.fixture
def doc(sample: tuple[Project, dict]) -> dict:
    project, blobs = sample
    return export_workflow(project, WF_OPS, blobs.__getitem__, environment={"device": "cpu"})


# --- export ------------------------------------------------------------------------------------


def test_export_follows_the_format(sample: tuple[Project, dict], doc: dict) -> None:
    project, _ = sample
    assert doc["format"] == "opendream.workflow" and doc["version"] == 2
    assert doc["name"] == "cat on a beach" and doc["canvas"] == {"width": 64, "height": 48}
    assert [x["id"] for x in doc["layers"]] == [x.id for x in project.layers]  # stack order, bottom first
    cat = next(x for x in doc["layers"] if x["name"] == "cat")
    assert cat == {
        "id": "L5",
        "name": "cat",
        "kind": "image",
        "op": "inpaint",
        "op_version": "1",
        "params": {"prompt": "a cat", "seed": 3, "device": None, "strength": 0.8},
        "inputs": {"mask_layer": "L2", "image_layer": "L3"},
        "visible": True,
        "opacity": 1.0,
        "placement": {"x": 0, "y": 0, "scale": 1.0, "flip_x": False, "flip_y": False},
        "blend": "normal",
        "mask": None,
        "result": asset_ref(project.layer("L5").blob),
    }
    assert doc["layers"][0]["id"] == "L5"  # moved below its inputs
    by_id = {x["id"]: x for x in doc["layers"]}
    assert by_id["L6"]["result"] is None  # pending
    assert by_id["L2"]["visible"] is False
    parts = [x for x in doc["layers"] if x["op"] == "segment"]
    assert [x.get("output_index", 0) for x in parts] == [0, 1, 2]
    assert [x.get("group") for x in parts] == [None, parts[0]["id"], parts[0]["id"]]
    assert by_id["L10"]["extension"] == "acme-tools"
    assert "extension" not in by_id["L1"]
    assert doc["environment"] == {"device": "cpu"}
    workflow.check_schema(doc)
    jsonschema.Draft202012Validator(
        json.loads((ROOT / "docs" / "workflow.schema.json").read_text())
    ).validate(doc)


def test_export_is_deterministic(sample: tuple[Project, dict], doc: dict) -> None:
    project, blobs = sample
    again = export_workflow(
        Project.from_dict(project.to_dict()), WF_OPS, blobs.__getitem__, environment={"device": "cpu"}
    )
    assert json.dumps(again) == json.dumps(doc)
    assert list(doc["assets"]) == sorted(doc["assets"])


def test_assets_carry_what_cannot_be_recomputed(sample: tuple[Project, dict], doc: dict) -> None:
    project, blobs = sample
    sources = {project.layer(i).recipe.params["asset"] for i in ("L1", "L2")}
    remote = asset_ref(project.layer("L4").blob)
    assert set(doc["assets"]) == sources | {remote}
    for ref, uri in doc["assets"].items():
        data = base64.b64decode(uri.removeprefix("data:image/png;base64,"))
        assert asset_ref(sha256_hex(data)) == ref and data == blobs[ref[7:]]


def test_self_contained_export_embeds_every_result(sample: tuple[Project, dict]) -> None:
    project, blobs = sample
    doc = export_workflow(project, WF_OPS, blobs.__getitem__, embed="all")
    results = {asset_ref(x.blob) for x in project.layers if x.status == "ready"}
    assert len(results) == 10  # every layer but the pending one
    assert results <= set(doc["assets"])
    assert "environment" not in doc
    imported = parse_workflow(json.dumps(doc), WF_OPS)
    assert set(imported.assets) >= {x.blob for x in project.layers if x.blob}


def test_a_stale_layer_records_no_result(sample: tuple[Project, dict]) -> None:
    project, blobs = sample
    project.edit_recipe("L3", WF_OPS.get("dream"), {"seed": 8})  # beach pending, cat & flat stale
    doc = export_workflow(project, WF_OPS, blobs.__getitem__)
    by_id = {x["id"]: x for x in doc["layers"]}
    assert by_id["L3"]["result"] is None and by_id["L5"]["result"] is None
    assert by_id["L4"]["result"] is not None


def test_export_of_an_op_no_longer_installed_keeps_its_result(sample: tuple[Project, dict]) -> None:
    project, blobs = sample
    registry = OpRegistry(ops={k: v for k, v in WF_OPS.ops.items() if k != "acme_blur"})
    doc = export_workflow(project, registry, blobs.__getitem__)
    assert asset_ref(project.layer("L10").blob) in doc["assets"]
    assert "extension" not in doc["layers"][-2]


def test_export_refuses_a_corrupt_blob(sample: tuple[Project, dict]) -> None:
    project, blobs = sample
    digest = project.layer("L4").blob
    blobs[digest] = png(picture(99))
    with pytest.raises(WorkflowError, match=digest):
        export_workflow(project, WF_OPS, blobs.__getitem__)


# --- import ------------------------------------------------------------------------------------


def test_roundtrip_keeps_the_document(sample: tuple[Project, dict], doc: dict) -> None:
    project, blobs = sample
    imported = parse_workflow(json.dumps(doc).encode(), WF_OPS)
    new = imported.project
    assert summary(new) == summary(project)
    assert new.id != project.id and new.name == project.name
    assert (new.width, new.height) == (64, 48)
    assert new.next_id == 12 and new.revision == 0 and new.undo_stack == []
    assert new.topological_order()[:3] == ["L1", "L2", "L3"]
    assert imported.expected == {x.id: (x.blob if x.status == "ready" else None) for x in project.layers}
    assert imported.environment == {"device": "cpu"}
    assert imported.assets == {ref[7:]: blobs[ref[7:]] for ref in doc["assets"]}
    # Export of the import gives the same document but for what replay will recompute.
    again = export_workflow(new, WF_OPS, imported.assets.__getitem__, environment={"device": "cpu"})
    assert [{**x, "result": None} for x in again["layers"]] == [{**x, "result": None} for x in doc["layers"]]


def test_imported_layers_are_recomputed_except_carried_remote_results(
    sample: tuple[Project, dict], doc: dict
) -> None:
    project, _ = sample
    imported = parse_workflow(doc, WF_OPS)
    states = {x.id: (x.status, x.blob) for x in imported.project.layers}
    assert states["L4"] == ("ready", project.layer("L4").blob)  # remote: cannot be recomputed
    assert all(state == ("pending", None) for lid, state in states.items() if lid != "L4")
    assert set(imported.project.needs_run()) == set(states) - {"L4"}


def test_fixture_workflow_imports() -> None:
    imported = parse_workflow((FIXTURES / "v1_minimal.json").read_bytes(), WF_OPS)
    layers = imported.project.layers
    assert [(x.id, x.recipe.op) for x in layers] == [("L1", "paint_mask"), ("L2", "dream"), ("L3", "inpaint")]
    assert layers[2].recipe.params["seed"] == 42  # defaults filled in
    assert set(imported.assets) == {layers[0].recipe.params["asset"][7:]}


def test_older_file_versions_are_migrated(doc: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    def v0_to_v1(old: dict) -> dict:
        new = {k: v for k, v in old.items() if k != "size"}
        return {**new, "version": 1, "canvas": {"width": old["size"][0], "height": old["size"][1]}}

    monkeypatch.setitem(workflow.MIGRATIONS, 0, v0_to_v1)
    old = {k: v for k, v in doc.items() if k != "canvas"} | {"version": 0, "size": [32, 24]}
    project = parse_workflow(old, WF_OPS).project
    assert (project.width, project.height) == (32, 24)


def test_op_params_are_migrated_from_older_op_versions() -> None:
    registry = OpRegistry()

    def migrate(params: dict, from_version: str) -> dict:
        assert from_version == "1"
        return {"strength": params.pop("amount") / 100}

    @opendream.op(registry=registry, version="2", migrate=migrate)
    def fade(strength: float = 0.5) -> ImageLayer:
        raise NotImplementedError

    entry = {
        "id": "L1",
        "name": "fade",
        "kind": "image",
        "op": "fade",
        "op_version": "1",
        "params": {"amount": 30},
    }
    doc = {
        "format": "opendream.workflow",
        "version": 1,
        "name": "x",
        "canvas": {"width": 8, "height": 8},
        "layers": [entry],
    }
    recipe = parse_workflow(doc, registry).project.layers[0].recipe
    assert (recipe.op_version, recipe.params) == ("2", {"strength": 0.3})
    broken = copy.deepcopy(doc)
    broken["layers"][0]["params"] = {}
    with pytest.raises(WorkflowError, match=r"layer 'L1': cannot upgrade op 'fade' from version '1' to '2'"):
        parse_workflow(broken, registry)


def test_a_size_the_file_omits_is_the_canvas_size() -> None:
    registry = OpRegistry()

    @opendream.op(registry=registry)
    def plain(
        width: Annotated[
            int, Field(ge=8, multiple_of=8, json_schema_extra={"x-opendream-canvas": "width"})
        ] = 512,
    ) -> ImageLayer:
        raise NotImplementedError

    entry = {"id": "L1", "name": "plain", "kind": "image", "op": "plain", "op_version": "1", "params": {}}
    doc = {
        "format": "opendream.workflow",
        "version": 1,
        "name": "x",
        "canvas": {"width": 96, "height": 8},
        "layers": [entry],
    }
    assert parse_workflow(doc, registry).project.layers[0].recipe.params == {"width": 96}


# --- bad input ---------------------------------------------------------------------------------


def _layer(doc: dict, layer_id: str) -> dict:
    return next(x for x in doc["layers"] if x["id"] == layer_id)


def _set(layer_id: str, key: str, value: object) -> Callable[[dict], None]:
    return lambda doc: _layer(doc, layer_id).__setitem__(key, value)


def _swap_asset(data: bytes, *, rename: bool) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        ref = _layer(doc, "L1")["params"]["asset"]
        uri = "data:image/png;base64," + base64.b64encode(data).decode()
        new_ref = asset_ref(sha256_hex(data)) if rename else ref
        del doc["assets"][ref]
        doc["assets"][new_ref] = uri
        _layer(doc, "L1")["params"]["asset"] = new_ref

    return change


def _rename_ops(doc: dict) -> None:
    _layer(doc, "L3")["op"] = "zorp"
    _layer(doc, "L10")["op"] = "zap"
    _layer(doc, "L4")["op"] = "zap"


BAD_DOCUMENTS: list[tuple[str, Callable[[dict], None], str]] = [
    ("format", lambda d: d.__setitem__("format", "comfyui"), 'not an Opendream workflow: expected "format"'),
    ("newer", lambda d: d.__setitem__("version", 3), "version 3 was written by a newer Opendream"),
    ("older", lambda d: d.__setitem__("version", 0), "version 0 is not supported"),
    ("version type", lambda d: d.__setitem__("version", "1"), "version has to be an integer"),
    ("opacity", _set("L3", "opacity", 1.5), r"at `layers/3/opacity`: 1.5 is greater than the maximum of 1"),
    ("name", _set("L2", "name", "x" * 201), r"at `layers/2/name`: the value fails `maxLength: 200`"),
    ("extra field", lambda d: d.__setitem__("macro", 1), r"at `\(top level\)`: Additional properties"),
    ("bad id", _set("L2", "id", "../L2"), r"at `layers/2/id`: '../L2' does not match"),
    ("bad ref", lambda d: d["assets"].__setitem__("sha256:abc", "data:image/png;base64,"), r"at `assets`"),
    ("duplicate", _set("L3", "id", "L2"), "layer id 'L2' is used by more than one layer"),
    (
        "missing input",
        _set("L6", "inputs", {"mask": "L99"}),
        "layer 'L6': input `mask` refers to layer 'L99', which is not in the workflow",
    ),
    ("self cycle", _set("L6", "inputs", {"mask": "L6"}), r"cycle: L6 -> L6"),
    ("bad group", _set("L10", "group", "L3"), "layer 'L10': group 'L3' is not an earlier output"),
    (
        "params",
        _set("L3", "params", {"prompt": "x", "steps": 0}),
        r"layer 'L3': invalid parameters for op 'dream': `steps`: has to be at least 1",
    ),
    (
        "unknown param",
        _set("L3", "params", {"prompt": "x", "stepz": 3}),
        r"layer 'L3': .*`stepz`: is not a parameter of this op",
    ),
    ("layer in params", _set("L6", "params", {"mask": "L2"}), r"layer 'L6': .*`mask`: is a layer parameter"),
    (
        "kind",
        _set("L5", "inputs", {"mask_layer": "L3", "image_layer": "L3"}),
        "layer 'L5': input `mask_layer` needs a mask layer but 'L3' is a image layer",
    ),
    (
        "op version",
        _set("L3", "op_version", "0"),
        r"layer 'L3': cannot upgrade op 'dream' from version '0' to '1'.*no migration",
    ),
    (
        "missing asset",
        lambda d: d["assets"].pop(_layer(d, "L2")["params"]["asset"]),
        r"layer 'L2' names assets the file does not carry: sha256:[0-9a-f]{64}",
    ),
    (
        "hash mismatch",
        _swap_asset(png(picture(50)), rename=False),
        r"asset sha256:[0-9a-f]{12}… does not match its hash",
    ),
    ("not an image", _swap_asset(b"#!/bin/sh\nrm -rf /\n", rename=True), "not a PNG, JPEG or WebP image"),
    ("jpeg asset", _swap_asset(jpeg(picture(50)), rename=True), "is a JPEG image; workflow assets are PNG"),
    (
        "base64",
        lambda d: d["assets"].__setitem__(_layer(d, "L1")["params"]["asset"], "data:image/png;base64,@@@"),
        "is not valid base64",
    ),
]


@pytest.mark.parametrize(
    ("change", "message"), [x[1:] for x in BAD_DOCUMENTS], ids=[x[0] for x in BAD_DOCUMENTS]
)
def test_bad_documents_are_refused_naming_the_problem(
    doc: dict, change: Callable[[dict], None], message: str
) -> None:
    bad = copy.deepcopy(doc)
    change(bad)
    with pytest.raises(WorkflowError, match=message):
        parse_workflow(json.dumps(bad), WF_OPS)


BAD_TEXT = [
    ("not json", b"<html>hello</html>", "workflow is not valid JSON"),
    (
        "truncated",
        b'{"format": "opendream.workflow", "version": 1, "layers": [',
        "workflow is not valid JSON",
    ),
    ("nan", b'{"format": "opendream.workflow", "version": NaN}', "NaN is not valid JSON"),
    ("huge int", b'{"version": 1' + b"0" * 5000 + b"}", "workflow is not valid JSON"),
    ("bad utf-8", b'{"name": "\xff\xfe"}', "workflow is not valid JSON"),
    ("deep", b'{"a": ' * 40 + b"1" + b"}" * 40, "too deeply nested"),
    ("very deep", b"[" * 200_000 + b"]" * 200_000, "too deeply nested"),
    ("not an object", b"[1, 2, 3]", "not an Opendream workflow"),
]


@pytest.mark.parametrize(("data", "message"), [x[1:] for x in BAD_TEXT], ids=[x[0] for x in BAD_TEXT])
def test_bad_text_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(WorkflowError, match=message):
        parse_workflow(data, WF_OPS)


def test_size_is_checked_before_parsing(doc: dict) -> None:
    text = json.dumps(doc)
    with pytest.raises(WorkflowError, match=rf"too large: {len(text)} bytes; the limit is 1000"):
        parse_workflow(text, WF_OPS, max_bytes=1000)
    with pytest.raises(WorkflowError, match="too large"):
        parse_workflow(b"[" * 2000, WF_OPS, max_bytes=1000)  # not parsed at all


def test_layer_count_is_bounded(doc: dict) -> None:
    with pytest.raises(WorkflowError, match="workflow has 11 layers; the limit is 10"):
        parse_workflow(doc, WF_OPS, max_layers=10)


def test_unknown_ops_are_all_named_at_once(doc: dict) -> None:
    bad = copy.deepcopy(doc)
    _rename_ops(bad)
    with pytest.raises(OpNotFound) as caught:
        parse_workflow(bad, WF_OPS)
    assert caught.value.names == ["zap", "zorp"]
    assert "not installed: 'zap' (extension 'acme-tools'), 'zorp'. Install" in caught.value.message


ACME = {"url": "https://example.org/acme_tools.py", "sha256": "ab" * 32}


def test_export_records_where_a_url_installed_extension_came_from(sample: tuple[Project, dict]) -> None:
    project, blobs = sample
    doc = export_workflow(project, WF_OPS, blobs.__getitem__, sources={"acme-tools": ACME, "other": ACME})
    by_id = {x["id"]: x for x in doc["layers"]}
    assert by_id["L10"]["extension"] == "acme-tools" and by_id["L10"]["extension_source"] == ACME
    assert not any("extension_source" in x for x in doc["layers"] if x.get("extension") != "acme-tools")
    workflow.check_schema(doc)
    assert parse_workflow(doc, WF_OPS).project.layer("L10").recipe.op == by_id["L10"]["op"]


def test_unknown_ops_say_which_extension_and_where_it_came_from(doc: dict) -> None:
    bad = copy.deepcopy(doc)
    _rename_ops(bad)
    _layer(bad, "L10")["extension_source"] = ACME
    _layer(bad, "L3")["extension"] = "zorpish"
    with pytest.raises(OpNotFound) as caught:
        parse_workflow(bad, WF_OPS)
    assert caught.value.message.startswith(
        f"ops not installed: 'zap' (extension 'acme-tools' from {ACME['url']} sha256 {ACME['sha256']}), "
        "'zorp' (extension 'zorpish'). Install the extension"
    )
    assert caught.value.origins == {
        "zap": f"extension 'acme-tools' from {ACME['url']} sha256 {ACME['sha256']}",
        "zorp": "extension 'zorpish'",
    }


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ({"url": "file:///etc/x.py", "sha256": "ab" * 32}, "does not match"),
        ({"url": "https://example.org/x.py", "sha256": "AB" * 32}, "does not match"),
        ({"url": "https://example.org/x.py"}, "'sha256' is a required property"),
        ({**ACME, "extra": 1}, "Additional properties"),
    ],
)
def test_extension_source_is_validated(doc: dict, source: dict, needle: str) -> None:
    bad = copy.deepcopy(doc)
    _layer(bad, "L10")["extension_source"] = source
    with pytest.raises(WorkflowError, match=f"at `layers/.*/extension_source.*{needle}"):
        parse_workflow(bad, WF_OPS)
    alone = copy.deepcopy(doc)
    _layer(alone, "L1")["extension_source"] = ACME  # a source without its extension's name
    with pytest.raises(WorkflowError, match="'extension' is a dependency of 'extension_source'"):
        parse_workflow(alone, WF_OPS)


def test_a_longer_cycle_is_named_by_its_path() -> None:
    def invert(layer_id: str, source: str) -> dict:
        return {
            "id": layer_id,
            "name": layer_id,
            "kind": "mask",
            "op": "invert_mask",
            "op_version": "1",
            "params": {},
            "inputs": {"mask": source},
        }

    doc = {
        "format": "opendream.workflow",
        "version": 1,
        "name": "loop",
        "canvas": {"width": 8, "height": 8},
        "layers": [invert("L1", "L3"), invert("L2", "L1"), invert("L3", "L2")],
    }
    with pytest.raises(WorkflowError, match=r"layer inputs form a cycle: L1 -> L3 -> L2 -> L1"):
        parse_workflow(doc, WF_OPS)


def test_docs_schema_is_the_package_schema() -> None:
    docs = (ROOT / "docs" / "workflow.schema.json").read_text()
    package = (ROOT / "src" / "opendream" / "core" / "workflow.schema.json").read_text()
    assert docs == package
    assert json.loads(docs) == workflow.schema()
    jsonschema.Draft202012Validator.check_schema(workflow.schema())


def test_replay_of_an_exported_project_in_a_fresh_data_dir_is_exact(
    workspace: Workspace, tmp_path: Path
) -> None:
    """End to end with the built-in ops: export, import elsewhere, replay, every layer exact."""
    project = Project.new("chain", 64, 64)
    for op, image in (("load_image", gradient()), ("paint_mask", square_mask())):
        project.add_layer(REGISTRY.get(op), {"asset": asset_ref(workspace.data.blobs.put_image(image))}, {})
    project.add_layer(REGISTRY.get("feather_mask"), {"radius": 3}, {"mask": "L2"})
    project.add_layer(REGISTRY.get("invert_mask"), {}, {"mask": "L3"})
    workspace.runner.run_pending(project)
    assert all(x.status == "ready" for x in project.layers)
    data = json.dumps(workspace.export_workflow(project)).encode()

    settings = Settings(data_dir=tmp_path / "elsewhere")
    other = Workspace(settings, runtime=make_runtime(settings, load_models=False), extensions=[])
    try:
        imported = workflow.import_any(data, REGISTRY)
        copy_ = other.import_workflow(imported)
        report = other.replay(copy_, imported.expected)
    finally:
        other.close()
    assert [x.result for x in report.layers] == ["exact"] * 4


def test_assets_no_layer_uses_are_ignored(doc: dict) -> None:
    stray = png(picture(77))
    bad = copy.deepcopy(doc)
    bad["assets"][asset_ref(sha256_hex(stray))] = "data:image/png;base64," + base64.b64encode(stray).decode()
    assert sha256_hex(stray) not in parse_workflow(bad, WF_OPS).assets
