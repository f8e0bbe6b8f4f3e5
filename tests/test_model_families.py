"""Model families told without loading weights: a pipeline folder by its model_index.json, a
single-file checkpoint by the names and shapes in its safetensors header (real key names,
tiny tensors). A model of a family the generation ops cannot run is refused by name before
anything loads (it crashed inside the UNet with a raw TypeError)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from opendream.core.errors import ModelUnavailable, OpFailed
from opendream.diffusion.families import Family, detect_family
from opendream.diffusion.manager import ModelManager
from opendream.diffusion.model_sources import Source
from opendream.settings import Settings
from opendream.testing import run_op

SD1 = "model.diffusion_model.output_blocks.11.0.skip_connection.weight"
UNET_IN = "model.diffusion_model.input_blocks.0.0.weight"
SD2 = "model.diffusion_model.input_blocks.2.1.transformer_blocks.0.attn2.to_k.weight"
XL = "conditioner.embedders.1.model.transformer.resblocks.9.mlp.c_proj.bias"
FLUX = "double_blocks.0.img_attn.norm.key_norm.scale"
FLUX2 = "single_stream_modulation.lin.weight"


def pipeline_folder(root: Path, class_name: str, cross_attention: int | None = None) -> Path:
    folder = root / class_name
    (folder / "unet").mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": class_name}))
    if cross_attention is not None:
        (folder / "unet" / "config.json").write_text(json.dumps({"cross_attention_dim": cross_attention}))
    return folder


def checkpoint(root: Path, name: str, shapes: dict[str, tuple[int, ...]]) -> Path:
    path = root / f"{name}.safetensors"
    save_file({key: torch.zeros(shape) for key, shape in shapes.items()}, str(path))
    return path


@pytest.mark.parametrize(
    ("class_name", "cross_attention", "family"),
    [
        ("StableDiffusionPipeline", 768, Family("sd1", "normal")),
        ("StableDiffusionPipeline", 1024, Family("sd2", "normal")),
        ("StableDiffusionInpaintPipeline", 768, Family("sd1", "inpaint")),
        ("StableDiffusionXLPipeline", None, Family("sdxl", "normal")),
        ("FluxKontextPipeline", None, Family("flux1", "kontext")),
        ("QwenImageEditPipeline", None, Family("qwen-image", "edit")),
        ("ZImagePipeline", None, Family("z-image", "normal")),
        ("SomeoneElsesPipeline", None, None),
    ],
)
def test_a_pipeline_folder_by_its_index(
    tmp_path: Path, class_name: str, cross_attention: int | None, family: Family | None
) -> None:
    folder = pipeline_folder(tmp_path, class_name, cross_attention)
    assert detect_family(Source("folder", str(folder))) == family


@pytest.mark.parametrize(
    ("shapes", "family"),
    [
        ({SD1: (1, 1), UNET_IN: (8, 4, 1, 1)}, Family("sd1", "normal")),
        ({SD1: (1, 1), UNET_IN: (8, 9, 1, 1)}, Family("sd1", "inpaint")),
        ({SD1: (1, 1), SD2: (8, 1024)}, Family("sd2", "normal")),
        ({XL: (4,), UNET_IN: (8, 4, 1, 1)}, Family("sdxl", "normal")),
        ({FLUX: (4,), "img_in.weight": (8, 64)}, Family("flux1", "schnell")),
        ({XL: (4,), UNET_IN: (8, 4, 1, 1), "v_pred": (0,)}, Family("sdxl", "v-prediction")),
        ({FLUX2: (4,), "txt_in.weight": (8, 7680)}, Family("flux2", "klein")),
        ({FLUX2: (4,), "txt_in.weight": (8, 12288)}, Family("flux2", "klein")),
        ({FLUX2: (4,), "txt_in.weight": (8, 15360)}, Family("flux2", "dev")),
        (
            {"layers.0.adaLN_modulation.0.weight": (4, 4), "cap_embedder.0.weight": (4,)},
            Family("z-image", "turbo"),
        ),
    ],
)
def test_a_checkpoint_by_the_names_and_shapes_it_holds(
    tmp_path: Path, shapes: dict[str, tuple[int, ...]], family: Family
) -> None:
    assert detect_family(Source("safetensors", str(checkpoint(tmp_path, "model", shapes)))) == family


def test_a_v_prediction_folder_by_its_schedulers_config(tmp_path: Path) -> None:
    folder = pipeline_folder(tmp_path, "StableDiffusionPipeline", 1024)
    (folder / "scheduler").mkdir()
    config = {"_class_name": "EulerDiscreteScheduler", "prediction_type": "v_prediction"}
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(config))
    assert detect_family(Source("folder", str(folder))) == Family("sd2", "v-prediction")
    assert Family("sd2", "v-prediction").title == "Stable Diffusion 2.x (v-prediction)"


def test_a_checkpoint_of_no_known_family_is_left_to_the_loader(tmp_path: Path) -> None:
    path = checkpoint(tmp_path, "mystery", {"encoder.layer.0.weight": (2, 2), "decoder.bias": (2,)})
    assert detect_family(Source("safetensors", str(path))) is None
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(b"\x10\x00")
    assert detect_family(Source("safetensors", str(truncated))) is None
    partial = checkpoint(tmp_path, "partial", {"model.diffusion_model.head.modulation": (1, 6, 8)})
    assert detect_family(Source("safetensors", str(partial))) is None, "diffusers' probe trips on it"


def test_a_task_the_family_lacks_is_refused_before_loading_anything(tmp_path: Path) -> None:
    manager = ModelManager(Settings(data_dir=tmp_path / "data"), device="cpu", dtype="float32")
    chroma = pipeline_folder(tmp_path, "ChromaPipeline")
    with pytest.raises(
        ModelUnavailable,
        match=r"is Chroma, which has no inpainting pipeline; inpainting runs on Stable Diffusion 1\.x, SDXL, "
        r"Stable Diffusion 3, Flux\.1, Qwen-Image, Z-Image, Qwen-Image \(edit\) models",
    ):
        manager.get("inpaint", str(chroma), role="inpaint")
    lumina = pipeline_folder(tmp_path, "Lumina2Pipeline")
    with pytest.raises(ModelUnavailable, match=r"is Lumina 2, which has no image to image pipeline"):
        manager.get("img2img", str(lumina), role="dream")
    assert manager.stats["loads"] == 0 and manager.loaded() == []


def test_an_op_on_a_family_without_its_task_fails_its_layer_by_name(
    tmp_path: Path, tiny_dir: Path, monkeypatch
) -> None:
    monkeypatch.setenv("OPENDREAM_TINY_MODELS_DIR", str(tiny_dir))
    lumina = pipeline_folder(tmp_path, "Lumina2Pipeline")
    image = Image.new("RGB", (64, 64))
    with pytest.raises(
        OpFailed, match=r"img2img: model '.*Lumina2Pipeline' is Lumina 2, which has no image to"
    ):
        run_op("img2img", {"prompt": "a", "steps": 2, "model": str(lumina)}, {"image_layer": image})
