"""Model families told without loading weights: a pipeline folder by its model_index.json, a
single-file checkpoint by the names and shapes in its safetensors header (real key names,
tiny tensors). A model of a family the generation ops cannot run is refused by name before
anything loads (it crashed inside the UNet with a raw TypeError)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
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
    ],
)
def test_a_checkpoint_by_the_names_and_shapes_it_holds(
    tmp_path: Path, shapes: dict[str, tuple[int, ...]], family: Family
) -> None:
    assert detect_family(Source("safetensors", str(checkpoint(tmp_path, "model", shapes)))) == family


def test_a_checkpoint_of_no_known_family_is_left_to_the_loader(tmp_path: Path) -> None:
    path = checkpoint(tmp_path, "mystery", {"encoder.layer.0.weight": (2, 2), "decoder.bias": (2,)})
    assert detect_family(Source("safetensors", str(path))) is None
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(b"\x10\x00")
    assert detect_family(Source("safetensors", str(truncated))) is None
    partial = checkpoint(tmp_path, "partial", {"model.diffusion_model.head.modulation": (1, 6, 8)})
    assert detect_family(Source("safetensors", str(partial))) is None, "diffusers' probe trips on it"


def test_the_manager_refuses_another_family_before_loading_anything(tmp_path: Path) -> None:
    manager = ModelManager(Settings(data_dir=tmp_path / "data"), device="cpu", dtype="float32")
    xl_folder = pipeline_folder(tmp_path, "StableDiffusionXLPipeline")
    with pytest.raises(
        ModelUnavailable,
        match=r"is SDXL; the txt2img pipeline runs Stable Diffusion 1\.x and Stable Diffusion 2\.x models",
    ):
        manager.get("txt2img", str(xl_folder), role="dream")
    xl_file = checkpoint(tmp_path, "illustrious", {XL: (4,), UNET_IN: (8, 4, 1, 1)})
    with pytest.raises(
        ModelUnavailable, match=r"illustrious\.safetensors' is SDXL; the inpaint pipeline runs"
    ):
        manager.get("inpaint", str(xl_file), role="inpaint")
    assert manager.stats["loads"] == 0 and manager.loaded() == []


def test_dream_on_an_sdxl_folder_fails_its_layer_by_name(tmp_path: Path, tiny_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENDREAM_TINY_MODELS_DIR", str(tiny_dir))
    xl_folder = pipeline_folder(tmp_path, "StableDiffusionXLPipeline")
    with pytest.raises(OpFailed, match=r"dream: model '.*StableDiffusionXLPipeline' is SDXL"):
        run_op("dream", {"prompt": "a", "steps": 1, "model": str(xl_folder)}, size=(64, 64))
