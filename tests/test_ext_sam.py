"""The bundled Segment Anything extension: the real transformers SAM code on a tiny random
model saved and loaded with save_pretrained/from_pretrained (safetensors), through the engine."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from opendream.core.errors import InvalidParams
from opendream.core.project import Project
from opendream.core.recipe import asset_ref
from opendream.core.registry import REGISTRY
from opendream.diffusion.manager import ModelManager
from opendream.engine.consent import Trust
from opendream.engine.events import Event
from opendream.engine.runtime import Runtime, make_runtime
from opendream.engine.workspace import Workspace
from opendream.extensions.sam import build_tiny_sam, non_max_suppression, stability_scores
from opendream.settings import Settings

# A random model predicts random quality scores: let every candidate through.
OPEN = {"pred_iou_thresh": 0.0, "stability_score_thresh": 0.0, "min_area": 0.0, "points_per_side": 6}


@pytest.fixture(scope="module")
def tiny_sam(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = build_tiny_sam(tmp_path_factory.mktemp("sam") / "tiny-sam")
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "model.safetensors",
        "processor_config.json",
    ]
    return folder


@pytest.fixture
def ws(tmp_path: Path, tiny_sam: Path) -> Iterator[Workspace]:
    settings = Settings(data_dir=tmp_path / "data", sam_model=str(tiny_sam), device="cpu")
    workspace = Workspace(settings, runtime=make_runtime(settings), extensions=[])
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((100, 80))


def segment(
    ws: Workspace, photo: Image.Image, params: dict, trust: Trust | None = None
) -> tuple[Project, list[str]]:
    """Run a sam layer on ``photo``; with ``trust`` (a file's recipe) it may fail, else it must not."""
    project = Project.new("sam", 100, 80)
    project.add_layer(REGISTRY.get("load_image"), {"asset": asset_ref(ws.data.blobs.put_image(photo))}, {})
    layer = project.add_layer(REGISTRY.get("sam"), params, {"image": "L1"})
    ws.runner.run_pending(project, trust=trust or Trust())
    assert trust or project.layer(layer.id).status == "ready", project.layer(layer.id).run.error
    return project, [x.id for x in project.group(layer.id)]


def masks_of(ws: Workspace, project: Project, ids: list[str]) -> list[np.ndarray]:
    return [np.asarray(ws.data.blobs.get_image(project.layer(i).blob)) for i in ids]


def test_automatic_mode_makes_one_deduplicated_mask_layer_per_segment(
    ws: Workspace, photo: Image.Image
) -> None:
    project, ids = segment(ws, photo, {**OPEN, "max_masks": 12})
    masks = masks_of(ws, project, ids)
    assert 1 < len(ids) <= 12
    assert all(project.layer(i).kind == "mask" for i in ids)
    assert all(m.shape == (80, 100) and set(np.unique(m)) <= {0, 255} for m in masks)
    areas = [int((m > 0).sum()) for m in masks]
    assert areas == sorted(areas, reverse=True) and areas[-1] > 0, "largest first, none empty"
    binary = np.stack([m > 0 for m in masks])
    for i in range(len(binary)):
        for j in range(i):
            inter = (binary[i] & binary[j]).sum()
            # deduplicated at the low resolution (<= 0.7 there); upscaling moves edges a little
            assert inter / (binary[i] | binary[j]).sum() <= 0.8, "duplicates are suppressed"
    assert "torchvision" not in sys.modules


def test_automatic_mode_is_deterministic_and_reports_nothing_found(ws: Workspace, photo: Image.Image) -> None:
    project, ids = segment(ws, photo, OPEN)
    first = [project.layer(i).blob for i in ids]
    ws.runner.run_pending(project, force=True)
    assert [x.blob for x in project.group(ids[0])] == first

    project.edit_recipe(ids[0], REGISTRY.get("sam"), {**OPEN, "pred_iou_thresh": 1.0})
    ws.runner.run_pending(project)
    assert "no segment passing the thresholds" in project.layer(ids[0]).run.error


def test_prompt_mode_points_and_box_give_one_mask(ws: Workspace, photo: Image.Image) -> None:
    project, ids = segment(ws, photo, {"mode": "prompt", "points": "50,40; 10,10,0"})
    assert len(ids) == 1
    (mask,) = masks_of(ws, project, ids)
    assert mask.shape == (80, 100) and mask.dtype == np.uint8
    project, ids = segment(ws, photo, {"mode": "prompt", "box": "20,10,80,70"})
    project, both = segment(ws, photo, {"mode": "prompt", "box": "20,10,80,70", "points": "50,40"})
    assert len(ids) == len(both) == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mode": "prompt"}, "`points`: prompt mode needs `points` or a `box`"),
        ({"mode": "prompt", "points": "5"}, "`points`: '5' is not `x,y`"),
        ({"mode": "prompt", "points": "5,5,2"}, "label 0 or 1"),
        ({"mode": "prompt", "points": "a,b"}, "`points`: 'a,b' is not"),
        ({"mode": "prompt", "points": "150,5"}, "`points`: (150, 5) is outside the 100x80 image"),
        ({"mode": "prompt", "box": "1,2,3"}, "`box`: '1,2,3' is not `x0,y0,x1,y1`"),
        ({"mode": "prompt", "box": "50,10,20,70"}, "`box`: (50,10,20,70) has to satisfy"),
    ],
)
def test_prompts_are_validated_naming_the_argument(photo: Image.Image, params: dict, message: str) -> None:
    from opendream import ImageLayer

    spec = REGISTRY.get("sam")
    with pytest.raises(InvalidParams) as info:
        spec.call(spec.validate_params(params), {"image": ImageLayer(image=photo)}, None)
    assert message in info.value.message


def test_unavailable_model_fails_the_layer_naming_it(tmp_path: Path, photo: Image.Image) -> None:
    settings = Settings(data_dir=tmp_path / "data", sam_model=str(tmp_path / "no-such-sam"))
    ws = Workspace(settings, runtime=make_runtime(settings), extensions=[])
    project = Project.new("sam", 100, 80)
    project.add_layer(REGISTRY.get("load_image"), {"asset": asset_ref(ws.data.blobs.put_image(photo))}, {})
    layer = project.add_layer(REGISTRY.get("sam"), OPEN, {"image": "L1"})
    events: list[Event] = []
    ws.runner.run_pending(project, on_event=events.append)
    error = project.layer(layer.id).run.error
    assert "no-such-sam" in error and "OPENDREAM_SAM_MODEL" in error
    assert [e for e in events if e.type == "job.status"] == [], "nothing to load, nothing said"
    ws.close()


def test_tiny_models_setting_builds_and_uses_a_tiny_sam(tmp_path: Path, photo: Image.Image) -> None:
    settings = Settings(data_dir=tmp_path / "data", tiny_models=True, tiny_models_dir=tmp_path / "tiny")
    ws = Workspace(settings, runtime=make_runtime(settings), extensions=[])
    project = Project.new("sam", 100, 80)
    project.add_layer(REGISTRY.get("load_image"), {"asset": asset_ref(ws.data.blobs.put_image(photo))}, {})
    layer = project.add_layer(REGISTRY.get("sam"), {"mode": "prompt", "points": "1,1"}, {"image": "L1"})
    ws.runner.run_pending(project)
    assert (
        project.layer(layer.id).status == "ready"
        and (tmp_path / "tiny" / "sam" / "model.safetensors").is_file()
    )
    ws.close()


def test_non_max_suppression_keeps_the_best_of_each_duplicate_group() -> None:
    a = np.zeros((3, 10, 10), bool)
    a[0, :5], a[1, :5], a[2, 5:] = True, True, True
    a[1, 5, 0] = True  # near-duplicate of mask 0, scored higher
    assert non_max_suppression(a, np.array([0.5, 0.9, 0.1]), 0.7) == [1, 2]
    assert non_max_suppression(a, np.array([0.5, 0.9, 0.1]), 1.0) == [1, 0, 2]


def test_stability_score_is_high_for_crisp_logits() -> None:
    crisp = np.where(np.arange(100).reshape(10, 10) < 50, 10.0, -10.0)[None]
    soft = np.linspace(-2, 2, 100).reshape(1, 10, 10)
    assert stability_scores(crisp)[0] == 1.0 and stability_scores(soft)[0] < 0.6


def test_sam_is_loaded_by_the_model_manager_and_evicted_when_it_needs_room(
    tmp_path: Path, tiny_sam: Path, photo: Image.Image
) -> None:
    """SAM kept its own cache outside the manager's memory budget."""
    import shutil

    second = shutil.copytree(tiny_sam, tmp_path / "second-sam")
    settings = Settings(data_dir=tmp_path / "data", device="cpu")
    manager = ModelManager(settings, device="cpu", dtype="float32")
    ws = Workspace(settings, runtime=Runtime(settings, models=manager), extensions=[])
    prompt = {"mode": "prompt", "points": "50,40"}
    segment(ws, photo, {**prompt, "model": str(tiny_sam)})
    segment(ws, photo, {**prompt, "model": str(tiny_sam), "points": "10,10"})
    (entry,) = manager.loaded()
    assert (entry["role"], entry["source"]) == ("sam", str(tiny_sam.resolve())) and entry["bytes"] > 0
    assert manager.stats["loads"] == 1, "loaded once, then reused"

    manager.budget_bytes = entry["bytes"] * 3 // 2  # room for one SAM, not two
    segment(ws, photo, {**prompt, "model": str(second)})
    assert [(x["role"], x["source"]) for x in manager.loaded()] == [("sam", str(second.resolve()))]
    assert manager.stats["evictions"] == 1 and manager.used_bytes <= manager.budget_bytes
    ws.close()


def test_a_file_named_sam_model_outside_the_model_folders_gets_one_answer(
    tmp_path: Path, tiny_sam: Path, photo: Image.Image
) -> None:
    """A file's `model` resolves only inside OPENDREAM_MODEL_DIRS, as for the diffusion ops:
    an existing SAM folder, a system file and missing paths outside them look the same."""
    import shutil

    outside = shutil.copytree(tiny_sam, tmp_path / "home" / "my-sam")
    inside = shutil.copytree(tiny_sam, tmp_path / "models" / "sam-here")
    settings = Settings(data_dir=tmp_path / "data", device="cpu", model_dirs=[tmp_path / "models"])
    ws = Workspace(settings, runtime=make_runtime(settings), extensions=[])
    from_file = Trust(from_file=True, consented=True)
    errors = {}
    for model in (str(outside), str(tmp_path / "home" / "nothing"), "/etc/passwd", "/etc/no-such-file"):
        project, (layer,) = segment(ws, photo, {"mode": "prompt", "points": "5,5", "model": model}, from_file)
        assert project.layer(layer).status == "failed"
        errors[model] = project.layer(layer).run.error.replace(repr(model), "<model>")
    assert len(set(errors.values())) == 1 and "not in the model folders" in errors["/etc/passwd"], errors
    for model in (str(inside), "sam-here"):  # inside the model folders, by path or by name
        project, (layer,) = segment(ws, photo, {"mode": "prompt", "points": "5,5", "model": model}, from_file)
        assert project.layer(layer).status == "ready", project.layer(layer).run.error
    ws.close()


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="reads counted by Linux's /proc/self/io")
def test_a_sam_model_file_is_refused_without_reading_it(tmp_path: Path, photo: Image.Image) -> None:
    """SAM's model path read a 1 GB file whole into memory."""
    big = tmp_path / "models" / "big.safetensors"
    big.parent.mkdir()
    with big.open("wb") as f:
        f.write((8).to_bytes(8, "little") + b'{"a": 1}')  # a safetensors header ...
        f.truncate(2**30)  # ... then 1 GB (sparse)

    def read_bytes() -> int:
        return int(Path("/proc/self/io").read_text().split("rchar: ")[1].split()[0])

    settings = Settings(data_dir=tmp_path / "data", device="cpu", model_dirs=[tmp_path / "models"])
    ws = Workspace(settings, runtime=make_runtime(settings), extensions=[])
    for trust in (Trust(), Trust(from_file=True, consented=True)):
        before = read_bytes()
        project, (layer,) = segment(ws, photo, {"mode": "prompt", "points": "5,5", "model": str(big)}, trust)
        assert read_bytes() - before < 2**26, "the 1 GB file was not read"
        error = project.layer(layer).run.error
        assert "is a single file" in error and "OPENDREAM_SAM_MODEL" in error, error
    ws.close()


def test_a_file_named_hub_sam_is_not_downloaded_before_consent(tmp_path: Path) -> None:
    from opendream.core.errors import ConsentRequired

    manager = ModelManager(Settings(data_dir=tmp_path / "data"), device="cpu", dtype="float32")
    asked: list[str] = []
    with pytest.raises(ConsentRequired, match="downloads 'someone/unknown-sam' from the Hugging Face hub"):
        manager.for_file(allow_download=False).load("sam", "someone/unknown-sam", asked.append)
    assert asked == [] and manager.loaded() == []
