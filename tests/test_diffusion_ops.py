"""The built-in diffusion ops on tiny random-weight models, through ``OpSpec.call``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from opendream import Cancelled, ImageLayer, MaskLayer
from tests.diffusion_fixtures import make_context, png_bytes, run_op

DREAM = {"prompt": "a cat", "width": 64, "height": 64, "steps": 3}


@pytest.fixture(scope="module")
def picture(tiny_manager, tiny_settings) -> Image.Image:
    """A 70x53 RGB picture (not a multiple of 8)."""
    (out,) = run_op("dream", {**DREAM, "seed": 5}, {}, tiny_manager, tiny_settings)
    return out.image.resize((70, 53))


def test_dream_same_seed_same_bytes_other_seed_differs(tiny_manager, tiny_settings) -> None:
    a = run_op("dream", {**DREAM, "seed": 1}, {}, tiny_manager, tiny_settings)
    b = run_op("dream", {**DREAM, "seed": 1}, {}, tiny_manager, tiny_settings)
    c = run_op("dream", {**DREAM, "seed": 2}, {}, tiny_manager, tiny_settings)
    assert png_bytes(a[0].image) == png_bytes(b[0].image)
    assert png_bytes(a[0].image) != png_bytes(c[0].image)
    assert a[0].kind == "image" and a[0].image.size == (64, 64) and a[0].image.mode == "RGB"


def test_dream_num_images_each_a_layer_reproducible_alone(tiny_manager, tiny_settings) -> None:
    batch = run_op(
        "dream",
        {**DREAM, "width": 80, "height": 72, "num_images": 2, "seed": 9},
        {},
        tiny_manager,
        tiny_settings,
    )
    assert [o.image.size for o in batch] == [(80, 72), (80, 72)]
    assert png_bytes(batch[0].image) != png_bytes(batch[1].image)
    # image i is seeded seed + i: the second image alone is close to the batch's second (batching
    # may change float rounding, so compare loosely)
    (alone,) = run_op(
        "dream", {**DREAM, "width": 80, "height": 72, "seed": 10}, {}, tiny_manager, tiny_settings
    )
    diff = np.abs(np.asarray(alone.image, np.int16) - np.asarray(batch[1].image, np.int16))
    assert diff.max() <= 2


@pytest.mark.parametrize("scheduler", ["euler", "dpmpp_2m", "ddim", "unipc"])
def test_dream_schedulers(tiny_manager, tiny_settings, scheduler: str) -> None:
    (out,) = run_op("dream", {**DREAM, "steps": 2, "scheduler": scheduler}, {}, tiny_manager, tiny_settings)
    assert out.image.size == (64, 64)


def test_progress_reports_every_step_with_previews(tiny_manager, tiny_settings) -> None:
    ctx = make_context(tiny_manager, tiny_settings, "dream")
    from opendream.core.registry import REGISTRY

    spec = REGISTRY.get("dream")
    spec.call(spec.validate_params({**DREAM, "steps": 5}), {}, ctx)
    events = ctx.recorder.events  # type: ignore[attr-defined]
    assert [(s, t) for s, t, _ in events] == [(i, 5) for i in range(1, 6)]
    previews = [p for _, _, p in events if p is not None]
    assert previews and all(p.mode == "RGB" and max(p.size) <= 128 for p in previews)


def test_cancel_stops_within_one_step(tiny_manager, tiny_settings) -> None:
    ctx = make_context(tiny_manager, tiny_settings, "dream", cancel_at=2)
    from opendream.core.registry import REGISTRY

    spec = REGISTRY.get("dream")
    with pytest.raises(Cancelled):
        spec.call(spec.validate_params({**DREAM, "steps": 20}), {}, ctx)
    steps = [s for s, _, _ in ctx.recorder.events]  # type: ignore[attr-defined]
    assert steps == [1, 2]  # cancelled during step 2's report: no step 3 ran


def test_cancel_before_start(tiny_manager, tiny_settings) -> None:
    ctx = make_context(tiny_manager, tiny_settings, "dream")
    ctx.cancel()
    from opendream.core.registry import REGISTRY

    with pytest.raises(Cancelled):
        REGISTRY.get("dream").call(REGISTRY.get("dream").validate_params(DREAM), {}, ctx)


def test_inpaint_non_multiple_of_8_keeps_size_and_pixels_outside_mask(
    tiny_manager, tiny_settings, picture
) -> None:
    from opendream.diffusion.ops.mask_and_inpaint import dilate

    mask = Image.new("L", picture.size, 0)
    mask.paste(255, (20, 15, 45, 35))
    feather = 4
    params = {"prompt": "a dog", "steps": 3, "seed": 3, "mask_feather": feather}
    layers = {"mask_layer": MaskLayer(mask), "image_layer": ImageLayer(picture)}
    (out,) = run_op("mask_and_inpaint", params, layers, tiny_manager, tiny_settings)
    assert out.image.size == picture.size and out.image.mode == "RGB"
    result, source = np.asarray(out.image), np.asarray(picture)
    outside = ~dilate(np.asarray(mask) > 0, feather)
    assert np.array_equal(result[outside], source[outside])
    inside = np.asarray(mask) > 0
    assert not np.array_equal(result[inside], source[inside])
    (again,) = run_op("mask_and_inpaint", params, layers, tiny_manager, tiny_settings)
    assert png_bytes(again.image) == png_bytes(out.image)


def test_inpaint_resizes_a_mask_of_another_size_and_keeps_alpha(tiny_manager, tiny_settings, picture) -> None:
    rgba = picture.convert("RGBA")
    rgba.putalpha(200)
    small_mask = Image.new("L", (35, 26), 0)
    small_mask.paste(255, (10, 8, 20, 18))  # -> about (20, 16, 40, 36) on the image
    layers = {"mask_layer": MaskLayer(small_mask), "image_layer": ImageLayer(rgba)}
    (out,) = run_op(
        "mask_and_inpaint",
        {"prompt": "x", "steps": 2, "mask_feather": 0},
        layers,
        tiny_manager,
        tiny_settings,
    )
    assert out.image.size == rgba.size and out.image.mode == "RGBA"
    result = np.asarray(out.image)
    assert np.array_equal(result[:10], np.asarray(rgba)[:10])  # rows far above the mask
    assert (result[..., 3] == 200).all()


def test_inpaint_with_empty_mask_returns_the_image(tiny_manager, tiny_settings, picture) -> None:
    layers = {"mask_layer": MaskLayer(Image.new("L", (8, 8), 0)), "image_layer": ImageLayer(picture)}
    (out,) = run_op("mask_and_inpaint", {"prompt": "x", "steps": 2}, layers, tiny_manager, tiny_settings)
    assert png_bytes(out.image) == png_bytes(picture)


def test_img2img_keeps_size_and_is_deterministic(tiny_manager, tiny_settings, picture) -> None:
    params = {"prompt": "x", "steps": 4, "strength": 0.5, "seed": 1}
    layers = {"image_layer": ImageLayer(picture)}
    ctx_events = make_context(tiny_manager, tiny_settings)
    from opendream.core.registry import REGISTRY

    spec = REGISTRY.get("img2img")
    (a,) = spec.call(spec.validate_params(params), layers, ctx_events)
    (b,) = run_op("img2img", params, layers, tiny_manager, tiny_settings)
    assert a.image.size == picture.size
    assert png_bytes(a.image) == png_bytes(b.image)
    # strength 0.5 of 4 steps runs 2 steps
    assert [(s, t) for s, t, _ in ctx_events.recorder.events] == [(1, 2), (2, 2)]  # type: ignore[attr-defined]


def test_strength_too_small_for_steps_names_strength(tiny_manager, tiny_settings, picture) -> None:
    from opendream.core.errors import InvalidParams

    with pytest.raises(InvalidParams, match="`strength`"):
        run_op(
            "img2img",
            {"prompt": "x", "steps": 2, "strength": 0.2},
            {"image_layer": ImageLayer(picture)},
            tiny_manager,
            tiny_settings,
        )


def test_nan_output_fails_the_layer_and_the_next_layer_still_runs(
    tiny_dir, tiny_settings, tiny_manager, tmp_path
) -> None:
    """A model whose VAE decoder has NaN weights (as a broken float16 VAE gives): the real
    pipeline produces NaN pixels, the layer fails saying so, and the runner goes on."""
    import safetensors.torch

    from opendream.core.project import Project
    from opendream.core.registry import REGISTRY
    from opendream.engine.runtime import Runtime
    from opendream.engine.workspace import Workspace

    broken = Path(shutil.copytree(tiny_dir / "txt2img", tmp_path / "nan-vae"))
    weights = broken / "vae" / "diffusion_pytorch_model.safetensors"
    tensors = safetensors.torch.load_file(str(weights))
    tensors["decoder.conv_out.bias"].fill_(float("nan"))
    safetensors.torch.save_file(tensors, str(weights))

    runtime = Runtime(
        settings=tiny_settings, device="cpu", dtype="float32", models=tiny_manager, environment={}
    )
    workspace = Workspace(tiny_settings, runtime=runtime, extensions=[])
    try:
        project = Project.new("nan", 64, 64)
        project.add_layer(REGISTRY.get("dream"), {**DREAM, "model": str(broken)}, {})
        project.add_layer(REGISTRY.get("dream"), DREAM, {})
        runs = workspace.runner.run_pending(project)
        assert [r.outcome for r in runs] == ["failed", "computed"]
        assert "NaN" in (runs[0].error or "") and "float32" in (runs[0].error or "")
        failed = project.layer("L1")
        assert failed.status == "failed" and failed.blob is None and failed.run.error == runs[0].error
        assert project.layer("L2").status == "ready"
    finally:
        workspace.close()


def test_running_out_of_memory_fails_the_layer_clearly_and_the_next_one_runs(tiny_dir, tmp_path) -> None:
    """A real allocation failure (torch's CPU allocator under a capped address space, in a child
    process so this one is untouched), not a raised ``MemoryError``."""
    child = subprocess.run(
        [sys.executable, "-m", "tests.out_of_memory_child", str(tiny_dir), str(tmp_path / "data")],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    failed, after = json.loads(child.stdout.strip().splitlines()[-1])
    assert failed["outcome"] == "failed" and after == {"outcome": "computed", "error": None}
    assert failed["error"].startswith("dream: out of memory on cpu; try a smaller size"), failed["error"]


def test_ops_use_the_default_manager_without_ctx_models(tiny_settings, pinned_threads) -> None:
    from opendream.diffusion.manager import default_manager

    (out,) = run_op("dream", DREAM, {}, None, tiny_settings)
    assert out.image.size == (64, 64)
    assert default_manager(tiny_settings).stats["loads"] == 2, "the model and its previews' tiny autoencoder"


def test_identity_names_the_resolved_model(tiny_manager, tiny_settings) -> None:
    from opendream.core.registry import REGISTRY

    ctx = make_context(tiny_manager, tiny_settings)
    dream_id = REGISTRY.get("dream").identity({"model": ""}, ctx)
    inpaint_id = REGISTRY.get("mask_and_inpaint").identity({"model": ""}, ctx)
    assert dream_id["model"]["source"] == "tiny:txt2img" and len(dream_id["model"]["fingerprint"]) == 64
    assert inpaint_id["model"]["source"] == "tiny:inpaint"
    unavailable = REGISTRY.get("dream").identity({"model": "nobody/nothing-at-all"}, ctx)
    assert unavailable["model"]["source"] == "nobody/nothing-at-all"
