"""The engine: run layers through the persistent cache, replay, multi-output, failures, cancel."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import numpy as np
import pytest
from PIL import Image

import opendream
from opendream import Context, Field, ImageLayer, Layer, MaskLayer
from opendream.core.project import Project
from opendream.core.recipe import asset_ref
from opendream.core.registry import OpRegistry
from opendream.engine.events import Event
from opendream.engine.runtime import make_runtime
from opendream.engine.workspace import Workspace
from opendream.settings import Settings
from tests.helpers import builtin_registry, gradient, square_mask

CALLS: list[str] = []
# The built-in ops plus this module's test ops, which stay out of the global registry.
ENGINE_OPS = builtin_registry()


@opendream.op(registry=ENGINE_OPS, returns="mask")
def t_segments(image: ImageLayer, count: Annotated[int, Field(ge=0, le=6)] = 2) -> list[MaskLayer]:
    CALLS.append("t_segments")
    width, height = image.get_image().size
    masks = []
    for i in range(count):
        mask = Image.new("L", (width, height), 0)
        mask.paste(255, (i * 4, 0, i * 4 + 4, height))
        masks.append(MaskLayer(image=mask))
    return masks


@opendream.op(registry=ENGINE_OPS)
def t_explode(image: ImageLayer, message: str = "boom") -> Layer:
    CALLS.append("t_explode")
    raise RuntimeError(message)


@opendream.op(registry=ENGINE_OPS, deterministic=False)
def t_remote(seed: int = 0) -> Layer:
    CALLS.append("t_remote")
    rng = np.random.default_rng()
    return Layer(image=Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)))


@opendream.op(registry=ENGINE_OPS)
def t_slow(image: ImageLayer, steps: int = 50, ctx: Context = None) -> Layer:
    for step in range(steps):
        ctx.check_cancelled()
        ctx.progress(step + 1, steps, None)
        if step == 2:
            ctx.cancel()
    return Layer(image=image.get_image())


@opendream.op(registry=ENGINE_OPS)
def t_download(ctx: Context = None) -> Layer:
    ctx.download_progress(5, 10)
    ctx.download_progress(10, 10)
    return Layer(image=Image.new("RGB", (8, 8)))


@opendream.op(registry=ENGINE_OPS)
def t_mutator(image: ImageLayer) -> Layer:
    image.get_image().paste((0, 0, 0), (0, 0, 8, 8))
    return Layer(image=image.get_image())


def upload(ws: Workspace, project: Project, image: Image.Image, op: str = "load_image") -> str:
    digest = ws.data.blobs.put_image(image)
    return project.add_layer(ENGINE_OPS.get(op), {"asset": asset_ref(digest)}, {}).id


def _workspace(settings: Settings, registry: OpRegistry) -> Workspace:
    return Workspace(
        settings, registry=registry, runtime=make_runtime(settings, load_models=False), extensions=[]
    )


@pytest.fixture
def workspace(settings: Settings) -> Iterator[Workspace]:
    """A model-free workspace running the built-in ops and this module's test ops."""
    ws = _workspace(settings, ENGINE_OPS)
    yield ws
    ws.close()


@pytest.fixture
def chain(workspace: Workspace) -> Project:
    """L1 image, L2 mask, L3 feather(L2), L4 invert(L3)."""
    project = Project.new("chain", 64, 64)
    upload(workspace, project, gradient())
    upload(workspace, project, square_mask(), "paint_mask")
    project.add_layer(ENGINE_OPS.get("feather_mask"), {"radius": 3}, {"mask": "L2"})
    project.add_layer(ENGINE_OPS.get("invert_mask"), {}, {"mask": "L3"})
    return project


def test_run_then_cache_hit_then_edit_reruns_only_descendants(workspace: Workspace, chain: Project) -> None:
    runs = workspace.runner.run_pending(chain)
    assert [(r.layer, r.outcome) for r in runs] == [
        ("L1", "computed"),
        ("L2", "computed"),
        ("L3", "computed"),
        ("L4", "computed"),
    ]
    assert all(x.status == "ready" and workspace.data.blobs.has(x.blob) for x in chain.layers)
    assert chain.layer("L2").kind == "mask" and chain.layer("L1").kind == "image"
    assert workspace.runner.run_pending(chain) == [], "nothing left to run"

    before = {x.id: x.blob for x in chain.layers}
    chain.edit_recipe("L3", ENGINE_OPS.get("feather_mask"), {"radius": 9})
    runs = workspace.runner.run_pending(chain)
    assert [(r.layer, r.outcome) for r in runs] == [("L3", "computed"), ("L4", "computed")]
    assert chain.layer("L3").blob != before["L3"] and chain.layer("L1").blob == before["L1"]

    chain.undo()
    assert {x.id: x.blob for x in chain.layers} == before, "undo is instant: old pixels are kept"
    chain.edit_recipe("L3", ENGINE_OPS.get("feather_mask"), {"radius": 3})
    runs = workspace.runner.run_pending(chain)
    assert [(r.layer, r.outcome) for r in runs] == [("L3", "cached"), ("L4", "cached")]
    assert chain.layer("L4").blob == before["L4"]


def test_cache_persists_across_processes_of_the_same_data_dir(
    settings: Settings, chain: Project, workspace: Workspace
) -> None:
    workspace.runner.run_pending(chain)
    blobs = [x.blob for x in chain.layers]
    other = _workspace(settings, ENGINE_OPS)
    try:
        copy = Project.from_dict(chain.to_dict())
        for layer in copy.layers:
            layer.status, layer.blob = "stale", None
        runs = other.runner.run_pending(copy)
        assert {r.outcome for r in runs} == {"cached"}
        assert [x.blob for x in copy.layers] == blobs
    finally:
        other.close()


def test_force_recomputes_to_identical_bytes(workspace: Workspace, chain: Project) -> None:
    workspace.runner.run_pending(chain)
    blobs = [x.blob for x in chain.layers]
    runs = workspace.runner.run_pending(chain, force=True)
    assert {r.outcome for r in runs} == {"computed"}
    assert [x.blob for x in chain.layers] == blobs, "deterministic ops give byte-identical PNGs"


def test_multi_output_count_change_adds_and_removes_layers(workspace: Workspace) -> None:
    project = Project.new("seg", 32, 32)
    upload(workspace, project, gradient(32))
    seg = project.add_layer(ENGINE_OPS.get("t_segments"), {"count": 3}, {"image": "L1"})
    workspace.runner.run_pending(project)
    assert [x.id for x in project.group(seg.id)] == ["L2", "L3", "L4"]
    assert all(x.kind == "mask" and x.status == "ready" for x in project.group(seg.id))
    inverted = project.add_layer(ENGINE_OPS.get("invert_mask"), {}, {"mask": "L4"})
    workspace.runner.run_pending(project)

    project.edit_recipe("L3", ENGINE_OPS.get("t_segments"), {"count": 1})
    runs = workspace.runner.run_pending(project)
    assert runs[0].removed == ("L3", "L4", inverted.id)
    assert [x.id for x in project.layers] == ["L1", "L2"]


def test_failing_op_marks_its_layer_and_dependents_and_others_still_run(workspace: Workspace) -> None:
    project = Project.new("fail", 16, 16)
    upload(workspace, project, gradient(16))
    project.add_layer(ENGINE_OPS.get("t_explode"), {"message": "kaput"}, {"image": "L1"})
    project.add_layer(ENGINE_OPS.get("flatten"), {}, {"layers": ["L2"]})
    project.add_layer(ENGINE_OPS.get("flatten"), {}, {"layers": ["L1"]})
    events: list[Event] = []
    runs = workspace.runner.run_pending(project, on_event=events.append)
    assert {r.layer: r.outcome for r in runs} == {
        "L1": "computed",
        "L2": "failed",
        "L3": "failed",
        "L4": "computed",
    }
    assert project.layer("L2").run.error == "RuntimeError: kaput"
    assert "input `layers` (layer L2) is failed" in project.layer("L3").run.error
    assert [e.type for e in events if e.type == "job.failed"] == ["job.failed", "job.failed"]


def test_non_deterministic_results_are_reused_unless_forced(workspace: Workspace) -> None:
    project = Project.new("remote", 8, 8)
    project.add_layer(ENGINE_OPS.get("t_remote"), {}, {})
    CALLS.clear()
    workspace.runner.run_pending(project)
    first = project.layer("L1").blob
    project.layer("L1").status = "stale"
    assert [r.outcome for r in workspace.runner.run_pending(project)] == ["reused"]
    assert project.layer("L1").blob == first and CALLS == ["t_remote"]
    workspace.runner.run_pending(project, force=True)
    assert project.layer("L1").blob != first and CALLS == ["t_remote", "t_remote"]


def test_cancel_stops_the_op_and_marks_the_layer(workspace: Workspace) -> None:
    project = Project.new("cancel", 8, 8)
    upload(workspace, project, gradient(8))
    project.add_layer(ENGINE_OPS.get("t_slow"), {}, {"image": "L1"})
    events: list[Event] = []
    cancel = threading.Event()
    runs = workspace.runner.run_pending(project, cancel_event=cancel, on_event=events.append)
    assert runs[-1].outcome == "cancelled"
    assert project.layer("L2").status == "cancelled" and project.layer("L2").blob is None
    steps = [e.data["step"] for e in events if e.type == "job.progress" and e.data["layers"] == ["L2"]]
    assert steps == [1, 2, 3], "cancel takes effect at the next step"


def test_model_downloads_become_layer_events(workspace: Workspace) -> None:
    project = Project.new("download", 8, 8)
    project.add_layer(ENGINE_OPS.get("t_download"), {}, {})
    events: list[Event] = []
    workspace.runner.run_pending(project, on_event=events.append)
    downloads = [e.data for e in events if e.type == "job.download"]
    assert downloads == [
        {"layers": ["L1"], "done_bytes": 5, "total_bytes": 10},
        {"layers": ["L1"], "done_bytes": 10, "total_bytes": 10},
    ]


def test_ops_cannot_mutate_their_inputs(workspace: Workspace) -> None:
    project = Project.new("mutate", 16, 16)
    upload(workspace, project, Image.new("RGB", (16, 16), "white"))
    project.add_layer(ENGINE_OPS.get("t_mutator"), {}, {"image": "L1"})
    workspace.runner.run_pending(project)
    source = workspace.data.blobs.get_image(project.layer("L1").blob)
    assert source.getpixel((0, 0)) == (255, 255, 255)


def test_composite_follows_visibility_opacity_and_order(workspace: Workspace) -> None:
    project = Project.new("comp", 8, 8)
    upload(workspace, project, Image.new("RGB", (8, 8), (255, 0, 0)))
    upload(workspace, project, Image.new("RGB", (8, 8), (0, 0, 255)))
    workspace.runner.run_pending(project)
    assert workspace.composite(project).getpixel((0, 0)) == (0, 0, 255, 255)
    project.set_opacity("L2", 0.5)
    assert workspace.composite(project).getpixel((0, 0)) == (127, 0, 128, 255)
    project.set_visible("L2", False)
    assert workspace.composite(project).getpixel((0, 0)) == (255, 0, 0, 255)
    project.move_layer("L1", 1)
    project.set_visible("L2", True)
    project.set_opacity("L2", 1.0)
    assert workspace.composite(project).getpixel((0, 0)) == (255, 0, 0, 255)


def test_original_style_extension_loads_and_runs_unchanged(settings: Settings, ops: OpRegistry) -> None:
    from opendream.engine.loader import load_extension_dirs

    workspace = _workspace(settings, ops)

    folder = Path(__file__).parent / "fixtures" / "original_style"
    statuses = {s.name: s for s in load_extension_dirs([folder], ops)}
    assert statuses["posterize_original"].error is None
    assert statuses["posterize_original"].ops == ["posterize_original"]
    assert (
        "syntax error" in statuses["broken_syntax"].error
        and "broken_syntax.py:4" in statuses["broken_syntax"].error
    )
    assert "needs the Python package `a-module-that-is-not-installed`" in statuses["broken_import"].error
    assert "parameter 'options' has unsupported type" in statuses["broken_signature"].error
    assert "broken_signature" not in ops

    spec = ops.get("posterize_original")
    assert spec.extension == "posterize_original"
    project = Project.new("compat", 32, 32)
    upload(workspace, project, gradient(32))
    project.add_layer(spec, {"label": "poster", "levels": 2, "batch_size": 1}, {"image_layer": "L1"})
    runs = workspace.runner.run_pending(project)
    assert [r.outcome for r in runs] == ["computed", "computed"]
    result = np.array(workspace.data.blobs.get_image(project.layer("L2").blob))
    assert set(np.unique(result)) <= {0, 128}
    workspace.close()
