"""The generation ops on every model family, through the real loading code: tiny random-weight
pipelines of each family (SDXL, SD 3, Flux.1, Flux.1 Kontext, Chroma …) built at test time.
Per family: dream, img2img and mask_and_inpaint where the family has the task, determinism,
paste-back outside the mask, one load shared by the tasks, the family's defaults, and the
messages for what a family cannot do."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from opendream import ImageLayer, MaskLayer
from opendream.core.errors import InvalidParams, ModelUnavailable
from opendream.core.registry import REGISTRY
from opendream.diffusion.manager import ModelManager
from tests.diffusion_fixtures import run_op

#: family -> the tasks diffusers maps for it (txt2img always).
TASKS = {
    "sdxl": {"img2img", "inpaint"},
    "sd3": {"img2img", "inpaint"},
    "flux1": {"img2img", "inpaint"},
    "flux1-kontext": {"edit"},
    "chroma": set(),
    "qwen-image": {"img2img", "inpaint"},
    "z-image": {"img2img", "inpaint"},
    "flux2-klein": {"edit"},
}
SIZE = 64


@pytest.fixture(scope="module")
def manager(tiny_settings: Any, pinned_threads: int) -> ModelManager:
    return ModelManager(tiny_settings, device="cpu", dtype="float32")


def pixels(layer: Any) -> np.ndarray:
    return np.asarray(layer.image)


def picture(seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8), "RGB")


def dream(folder: Path, manager: ModelManager, settings: Any, **params: Any) -> list:
    base = {"prompt": "a lighthouse", "width": SIZE, "height": SIZE, "steps": 2, "model": str(folder)}
    return run_op("dream", {**base, **params}, {}, manager, settings)


@pytest.mark.parametrize("family", sorted(TASKS))
def test_dream_is_deterministic_and_sized_as_asked(family, family_dirs, manager, tiny_settings) -> None:
    (first,) = dream(family_dirs[family], manager, tiny_settings, seed=7)
    (again,) = dream(family_dirs[family], manager, tiny_settings, seed=7)
    (other,) = dream(family_dirs[family], manager, tiny_settings, seed=8)
    assert first.image.size == (SIZE, SIZE)
    assert np.array_equal(pixels(first), pixels(again))
    assert not np.array_equal(pixels(first), pixels(other))
    # 72 is on SD's 8-pixel grid but not on the transformers' 16: made at 80, cropped back.
    (odd,) = dream(family_dirs[family], manager, tiny_settings, width=72, height=SIZE)
    assert odd.image.size == (72, SIZE)


@pytest.mark.parametrize("family", sorted(f for f, tasks in TASKS.items() if "img2img" in tasks))
def test_img2img_per_family(family, family_dirs, manager, tiny_settings) -> None:
    layers = {"image_layer": ImageLayer(picture())}
    params = {"prompt": "a boat", "steps": 2, "strength": 0.5, "model": str(family_dirs[family])}
    (result,) = run_op("img2img", params, layers, manager, tiny_settings)
    (again,) = run_op("img2img", params, layers, manager, tiny_settings)
    assert result.image.size == (SIZE, SIZE)
    assert np.array_equal(pixels(result), pixels(again))
    assert not np.array_equal(pixels(result), np.asarray(picture()))


@pytest.mark.parametrize("family", sorted(f for f, tasks in TASKS.items() if "inpaint" in tasks))
def test_inpaint_per_family_keeps_everything_outside_the_mask(
    family, family_dirs, manager, tiny_settings
) -> None:
    mask = Image.new("L", (SIZE, SIZE), 0)
    mask.paste(255, (16, 16, 40, 40))
    original = picture(1)
    layers = {"mask_layer": MaskLayer(mask), "image_layer": ImageLayer(original)}
    params = {"prompt": "a boat", "steps": 2, "mask_feather": 2, "model": str(family_dirs[family])}
    (result,) = run_op("mask_and_inpaint", params, layers, manager, tiny_settings)
    (again,) = run_op("mask_and_inpaint", params, layers, manager, tiny_settings)
    out, before = pixels(result), np.asarray(original)
    assert np.array_equal(out, pixels(again))
    outside = np.ones((SIZE, SIZE), bool)
    outside[16 - 2 : 40 + 2, 16 - 2 : 40 + 2] = False
    assert np.array_equal(out[outside], before[outside]), "untouched outside the feathered band"
    assert not np.array_equal(out[20:36, 20:36], before[20:36, 20:36]), "repainted inside"


@pytest.mark.parametrize("family", sorted(f for f, tasks in TASKS.items() if tasks))
def test_the_tasks_of_one_base_share_its_modules(family, family_dirs, tiny_settings, pinned_threads) -> None:
    manager = ModelManager(tiny_settings, device="cpu", dtype="float32")
    folder = str(family_dirs[family])
    base = manager.get("txt2img", folder)
    for task in sorted(TASKS[family]):
        derived = manager.get(task, folder)  # type: ignore[arg-type]
        shared = [name for name, module in base.components.items() if module is not None]
        assert all(derived.components.get(name) is base.components[name] for name in shared), task
    assert manager.stats["loads"] == 1
    (entry,) = manager.loaded()
    from opendream.diffusion.model_cache import module_bytes

    assert entry["bytes"] == module_bytes(list(base.components.values())), "shared modules count once"


@pytest.mark.parametrize(
    ("family", "task", "message"),
    [
        ("chroma", "img2img", r"is Chroma, which has no image to image pipeline; image to image runs on "),
        ("chroma", "inpaint", r"is Chroma, which has no inpainting pipeline; inpainting runs on .*Flux\.1"),
        ("flux1-kontext", "inpaint", r"is Flux\.1 \(kontext\), which has no inpainting pipeline"),
        ("flux2-klein", "inpaint", r"is Flux\.2 \(klein\), which has no inpainting pipeline"),
        (
            "flux1-kontext",
            "img2img",
            r"no image to image pipeline; it edits by instruction: use the edit op; image to image runs on Stable Diffusion 1\.x, SDXL",
        ),
        (
            "sdxl",
            "edit",
            r"is SDXL, which has no instruction editing pipeline; instruction editing runs on "
            r"Flux\.2, Flux\.1 \(kontext\), Flux\.2 \(klein\), Qwen-Image \(edit\) models",
        ),
    ],
)
def test_a_task_the_family_lacks_names_the_families_that_have_it(
    family, task, message, family_dirs, tiny_settings
) -> None:
    manager = ModelManager(tiny_settings, device="cpu", dtype="float32")
    with pytest.raises(ModelUnavailable, match=message):
        manager.get(task, str(family_dirs[family]))
    assert manager.stats["loads"] == 0


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        ("sdxl", {"steps": 30, "guidance_scale": 5.0, "scheduler": "euler_a"}),  # dream's own sampler
        ("sd3", {"steps": 28, "guidance_scale": 7.0, "scheduler": "default"}),
        ("flux1", {"steps": 28, "guidance_scale": 3.5, "scheduler": "default"}),
        ("flux1-kontext", {"steps": 28, "guidance_scale": 2.5, "scheduler": "default"}),
        ("chroma", {"steps": 26, "guidance_scale": 4.0, "scheduler": "default"}),
        ("qwen-image", {"steps": 30, "guidance_scale": 4.0, "scheduler": "default"}),
        ("z-image", {"steps": 28, "guidance_scale": 4.0, "scheduler": "default"}),
        ("flux2-klein", {"steps": 4, "guidance_scale": 1.0, "scheduler": "default"}),
    ],
)
def test_omitted_params_take_the_familys_defaults(family, expected, family_dirs) -> None:
    dream_spec = REGISTRY.get("dream")
    params = dream_spec.validate_params({"prompt": "a", "model": str(family_dirs[family])}, canvas=(320, 256))
    assert {k: params[k] for k in expected} == expected
    assert (params["width"], params["height"]) == (320, 256), "the canvas's size wins over the family's"
    alone = dream_spec.validate_params({"prompt": "a", "model": str(family_dirs[family])})
    assert (alone["width"], alone["height"]) == (1024, 1024)
    given = dream_spec.validate_params({"prompt": "a", "steps": 3, "model": str(family_dirs[family])})
    assert given["steps"] == 3, "a given value stays"
    img2img = REGISTRY.get("img2img").validate_params({"prompt": "a", "model": str(family_dirs[family])})
    assert img2img["steps"] == expected["steps"] and img2img["scheduler"] == "default", "the model's own"


@pytest.mark.parametrize("family", sorted(f for f, tasks in TASKS.items() if "edit" in tasks))
def test_edit_by_instruction_per_family(family, family_dirs, manager, tiny_settings) -> None:
    source = picture(2).crop((0, 0, 56, 40))  # off the 16-pixel grid: padded, then cropped back
    layers = {"image_layer": ImageLayer(source)}
    params = {"instruction": "make it night", "steps": 2, "model": str(family_dirs[family])}
    (result,) = run_op("edit", params, layers, manager, tiny_settings)
    (again,) = run_op("edit", params, layers, manager, tiny_settings)
    assert result.image.size == (56, 40)
    assert np.array_equal(pixels(result), pixels(again))
    (other,) = run_op("edit", {**params, "instruction": "add a moon"}, layers, manager, tiny_settings)
    assert not np.array_equal(pixels(result), pixels(other)), "the instruction steers it"


def test_edit_refuses_bad_input_before_loading(tiny_settings) -> None:
    manager = ModelManager(tiny_settings, device="cpu", dtype="float32")
    with pytest.raises(InvalidParams, match="instruction"):
        run_op("edit", {"instruction": ""}, {"image_layer": ImageLayer(picture())}, manager, tiny_settings)
    assert manager.stats["loads"] == 0


def test_sd_keeps_the_ops_own_defaults(tiny_dir) -> None:
    params = REGISTRY.get("dream").validate_params({"prompt": "a", "model": str(tiny_dir / "txt2img")})
    assert (params["steps"], params["guidance_scale"], params["scheduler"]) == (20, 7.5, "euler_a")


def test_an_sd_sampler_on_a_flow_matching_model_is_explained(family_dirs, manager, tiny_settings) -> None:
    from opendream.core.errors import OpFailed

    with pytest.raises(
        (ValueError, OpFailed), match=r"`scheduler` 'euler_a' is a Stable Diffusion sampler.*'default'"
    ):
        dream(family_dirs["flux1"], manager, tiny_settings, scheduler="euler_a")


@pytest.mark.parametrize(("family", "title"), [("flux1", r"Flux\.1"), ("flux2-klein", r"Flux\.2 \(klein\)")])
def test_a_negative_prompt_on_distilled_guidance_is_refused(
    family, title, family_dirs, manager, tiny_settings
) -> None:
    with pytest.raises(InvalidParams, match=rf"negative_prompt.*not used by {title} models"):
        dream(family_dirs[family], manager, tiny_settings, negative_prompt="blurry")


def test_qwen_images_guidance_is_true_cfg_against_a_negative_prompt(
    family_dirs, manager, tiny_settings
) -> None:
    folder = family_dirs["qwen-image"]
    (guided,) = dream(folder, manager, tiny_settings, guidance_scale=4.0)
    (unguided,) = dream(folder, manager, tiny_settings, guidance_scale=1.0)
    (steered,) = dream(folder, manager, tiny_settings, guidance_scale=4.0, negative_prompt="fog")
    assert not np.array_equal(pixels(guided), pixels(unguided)), "guidance_scale reaches true_cfg_scale"
    assert not np.array_equal(pixels(guided), pixels(steered)), "the negative prompt is used"


def test_the_layer_records_its_models_family(tiny_client, family_dirs) -> None:
    from tests.server_fixtures import new_project, wait_idle

    pid = new_project(tiny_client, width=64, height=64)["id"]
    made = tiny_client.post(
        f"/api/projects/{pid}/layers",
        json={"op": "dream", "params": {"prompt": "a", "steps": 2, "model": str(family_dirs["sdxl"])}},
    )
    assert made.status_code == 201, made.text
    (layer,) = wait_idle(tiny_client, pid, 120)["layers"]
    assert layer["status"] == "ready", layer
    used = layer["run"]["environment"]["models"]["dream"]
    assert used == {
        "model": str(family_dirs["sdxl"]),
        "family": "sdxl",
        "variant": "normal",
        "pipeline": "StableDiffusionXLPipeline",
    }
    assert layer["recipe"]["params"]["steps"] == 2 and layer["recipe"]["params"]["guidance_scale"] == 5.0


@pytest.fixture(scope="module")
def sdxl_controlnet(family_dirs, tmp_path_factory) -> Path:
    """A tiny ControlNet made from the tiny SDXL's UNet (so it attends to SDXL's text width)."""
    import torch
    from diffusers import ControlNetModel, UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel.from_pretrained(family_dirs["sdxl"] / "unet")
    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(4, 8, 16, 32))
    folder = tmp_path_factory.mktemp("sdxl-controlnet")
    controlnet.save_pretrained(folder, safe_serialization=True)
    return folder


def test_controlnet_on_an_sdxl_base_takes_an_sdxl_controlnet(
    family_dirs, sdxl_controlnet, tiny_dir, manager, tiny_settings
) -> None:
    edges = ImageLayer(Image.new("RGB", (SIZE, SIZE)))
    params = {
        "prompt": "a",
        "steps": 2,
        "image_is_edge_map": True,
        "model": str(family_dirs["sdxl"]),
        "controlnet_model": str(sdxl_controlnet),
    }
    (result,) = run_op("controlnet_canny", params, {"image": edges}, manager, tiny_settings)
    assert result.image.size == (SIZE, SIZE)
    assert type(
        manager.get("controlnet", str(family_dirs["sdxl"]), controlnet=str(sdxl_controlnet))
    ).__name__ == ("StableDiffusionXLControlNetPipeline")
    sd_controlnet = str(tiny_dir / "controlnet")
    with pytest.raises(
        ModelUnavailable, match=r"ControlNet '.*controlnet' was made for .* but the base model .* is SDXL"
    ):
        manager.get("controlnet", str(family_dirs["sdxl"]), controlnet=sd_controlnet)
    with pytest.raises(
        ModelUnavailable,
        match=r"is Chroma, which has no controlnet pipeline here; controlnet runs on .*Flux\.1",
    ):
        manager.get("controlnet", str(family_dirs["chroma"]), controlnet=sd_controlnet)


#: family -> the transformer's class and how its ControlNet class is made from it.
CONTROLNETS = {
    "sd3": (
        "SD3Transformer2DModel",
        "SD3ControlNetModel",
        {"num_layers": 1, "num_extra_conditioning_channels": 0},
    ),
    "flux1": ("FluxTransformer2DModel", "FluxControlNetModel", {"num_layers": 1, "num_single_layers": 1}),
    "qwen-image": ("QwenImageTransformer2DModel", "QwenImageControlNetModel", {"num_layers": 1}),
}


def make_controlnet(family: str, family_dirs: dict[str, Path], folder: Path) -> Path:
    """A tiny ControlNet of ``family`` made from its tiny transformer, its output layers random
    (a fresh ControlNet's are zero, so the control picture would change nothing)."""
    import diffusers
    import torch

    transformer_class, controlnet_class, options = CONTROLNETS[family]
    torch.manual_seed(0)
    transformer = getattr(diffusers, transformer_class).from_pretrained(family_dirs[family] / "transformer")
    heads = {k: transformer.config[k] for k in ("attention_head_dim", "num_attention_heads")}
    make = getattr(diffusers, controlnet_class).from_transformer
    accepted = inspect.signature(make).parameters
    controlnet = make(transformer, **options, **{k: v for k, v in heads.items() if k in accepted})
    with torch.no_grad():
        for name, param in controlnet.named_parameters():
            if name.startswith(("controlnet_", "pos_embed_input")):  # zero at birth
                param.normal_(0, 0.5)
    controlnet.save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.mark.parametrize("family", sorted(CONTROLNETS))
def test_controlnet_on_a_transformer_base_takes_its_familys_controlnet(
    family, family_dirs, sdxl_controlnet, manager, tiny_settings, tmp_path
) -> None:
    controlnet = make_controlnet(family, family_dirs, tmp_path / "controlnet")
    rng = np.random.default_rng(3)
    edges = Image.fromarray(rng.integers(0, 2, (40, 56), dtype=np.uint8) * 255).convert("RGB")
    params = {
        "prompt": "a",
        "steps": 2,
        "image_is_edge_map": True,
        "model": str(family_dirs[family]),
        "controlnet_model": str(controlnet),
    }
    (result,) = run_op("controlnet_canny", params, {"image": ImageLayer(edges)}, manager, tiny_settings)
    (again,) = run_op("controlnet_canny", params, {"image": ImageLayer(edges)}, manager, tiny_settings)
    assert result.image.size == (56, 40), "padded to 16 for the model, cropped back"
    # SD 3's ControlNet pipeline gives other pixels for one seed in diffusers 0.42, even called
    # raw: it runs, but its layers do not replay exactly (README).
    assert np.array_equal(pixels(result), pixels(again)) or family == "sd3"
    blank = ImageLayer(Image.new("RGB", (56, 40)))
    (unsteered,) = run_op("controlnet_canny", params, {"image": blank}, manager, tiny_settings)
    assert not np.array_equal(pixels(result), pixels(unsteered)), "the control picture steers it"
    pipe = manager.get("controlnet", params["model"], controlnet=str(controlnet))
    assert type(pipe.controlnet).__name__ == CONTROLNETS[family][1]
    with pytest.raises(
        ModelUnavailable,
        match=r"ControlNet '.*' was made for Stable Diffusion 1\.x/2\.x or SDXL but the base model",
    ):
        manager.get("controlnet", params["model"], controlnet=str(sdxl_controlnet))


def test_a_pipeline_that_rounds_the_size_fails_instead_of_a_cropped_picture(family_dirs, manager) -> None:
    from opendream.core.errors import OpFailed
    from opendream.pipelines import run_instance, run_pipeline

    pipe = run_instance(manager.get("txt2img", str(family_dirs["flux1"])))
    with pytest.raises(OpFailed, match=r"dream: the pipeline made 48x48, not the 56x48 asked for"):
        run_pipeline(None, pipe, "dream", prompt="a", width=56, height=48, num_inference_steps=1)


def test_large_pictures_decode_tile_by_tile_without_touching_the_cached_vae(
    tiny_dir, tiny_settings, manager
) -> None:
    """Above ``vae_tiling_pixels`` the run decodes through a tiling view of the VAE (the tiny
    VAE's tiles are 512 px); the cached pipeline's VAE stays untiled for other runs."""
    params = {"prompt": "a", "width": 768, "height": 576, "steps": 1, "seed": 3}
    (whole,) = run_op("dream", params, {}, manager, tiny_settings)
    tiling = tiny_settings.model_copy(update={"vae_tiling_pixels": 512 * 512})
    (tiled,) = run_op("dream", params, {}, manager, tiling)
    (again,) = run_op("dream", params, {}, manager, tiling)
    assert np.array_equal(pixels(tiled), pixels(again)), "the rule depends on the size alone"
    assert not np.array_equal(pixels(whole), pixels(tiled)), "decoded in tiles"
    assert np.abs(pixels(whole).astype(int) - pixels(tiled).astype(int)).mean() < 20, "the same picture"
    assert not manager.get("txt2img").vae.use_tiling
    (small,) = run_op("dream", {**params, "width": 512, "height": 512}, {}, manager, tiling)
    (small_whole,) = run_op("dream", {**params, "width": 512, "height": 512}, {}, manager, tiny_settings)
    assert np.array_equal(pixels(small), pixels(small_whole)), "at the threshold: not tiled"
