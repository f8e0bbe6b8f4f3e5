"""The tiny pipelines of the other families: they load as their family's pipeline class, make
reproducible pictures through diffusers' auto pipelines, and derive img2img and inpainting
pipelines sharing their modules wherever diffusers maps the family to one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from opendream.diffusion.model_sources import TINY_MARKER
from opendream.diffusion.tiny_families import TINY_FAMILIES, ensure_tiny_family
from tests.helpers import gradient, square_mask

SIZE = 64
PIPELINE_CLASS = {
    "sdxl": "StableDiffusionXLPipeline",
    "sd3": "StableDiffusion3Pipeline",
    "flux1": "FluxPipeline",
    "flux1-kontext": "FluxKontextPipeline",
    "chroma": "ChromaPipeline",
}
# callback_on_step_end's latents at 64 px: a UNet's or SD3's (B, C, H/8, W/8); Flux's and
# Chroma's packed into 2x2 patches, (B, H/16 * W/16, C*4).
LATENTS_SHAPE = {
    "sdxl": (1, 4, 8, 8),
    "sd3": (1, 16, 8, 8),
    "flux1": (1, 16, 64),
    "flux1-kontext": (1, 16, 64),
    "chroma": (1, 16, 64),
}
# The families diffusers' AutoPipelineForImage2Image / AutoPipelineForInpainting map, to this class.
IMG2IMG = {
    "sdxl": "StableDiffusionXLImg2ImgPipeline",
    "sd3": "StableDiffusion3Img2ImgPipeline",
    "flux1": "FluxImg2ImgPipeline",
    "flux1-kontext": "FluxKontextPipeline",  # the image is a reference, not a start
}
INPAINT = {
    "sdxl": "StableDiffusionXLInpaintPipeline",
    "sd3": "StableDiffusion3InpaintPipeline",
    "flux1": "FluxInpaintPipeline",
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    cache = tmp_path_factory.mktemp("tiny-families")
    return {name: ensure_tiny_family(name, cache) for name in PIPELINE_CLASS}


@pytest.fixture(scope="module", params=tuple(PIPELINE_CLASS))
def family(request, folders) -> tuple[str, Any]:
    from diffusers import DiffusionPipeline

    pipe = DiffusionPipeline.from_pretrained(folders[request.param])
    pipe.set_progress_bar_config(disable=True)
    return request.param, pipe


def _size_kwargs(name: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"height": SIZE, "width": SIZE}
    if name == "flux1-kontext":
        # Kontext rescales the size to max_area (1024²) and a reference image to a preferred
        # Kontext resolution unless told not to.
        kwargs |= {"max_area": SIZE * SIZE, "_auto_resize": False}
    return kwargs


def _run(pipe: Any, name: str, seed: int = 0, **kwargs: Any) -> np.ndarray:
    import torch

    generator = torch.Generator("cpu").manual_seed(seed)
    images = pipe(
        prompt="a cat",
        num_inference_steps=2,
        generator=generator,
        output_type="np",
        **_size_kwargs(name),
        **kwargs,
    ).images
    assert images.shape == (1, SIZE, SIZE, 3) and np.isfinite(images).all()
    return images


def _assert_shares_modules(derived: Any, base: Any) -> None:
    shared = {key: value for key, value in base.components.items() if value is not None}
    assert shared.keys() <= derived.components.keys()
    assert all(derived.components[key] is value for key, value in shared.items())


def test_every_family_is_built(folders) -> None:
    from opendream.diffusion.tiny_llm_families import BUILDERS

    assert set(PIPELINE_CLASS) | set(BUILDERS) == set(TINY_FAMILIES), (
        "the LLM families: test_tiny_llm_families"
    )
    for name, folder in folders.items():
        assert json.loads((folder / "model_index.json").read_text())["_class_name"] == PIPELINE_CLASS[name]


def test_builds_are_reproducible(folders, tmp_path) -> None:
    def fingerprint(folder: Path) -> str:
        return json.loads((folder / TINY_MARKER).read_text())["fingerprint"]

    for name, folder in folders.items():
        assert fingerprint(ensure_tiny_family(name, tmp_path)) == fingerprint(folder), name


def test_an_unknown_family_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="sdxl, sd3, flux1"):
        ensure_tiny_family("sd1", tmp_path)
    assert not any(tmp_path.iterdir())


def test_text_to_image_is_reproducible(family) -> None:
    from diffusers import AutoPipelineForText2Image

    name, pipe = family
    assert type(pipe).__name__ == PIPELINE_CLASS[name]
    txt2img = AutoPipelineForText2Image.from_pipe(pipe)
    latents: list[tuple[int, ...]] = []

    def on_step_end(_pipe: Any, _step: int, _timestep: Any, tensors: dict) -> dict:
        latents.append(tuple(tensors["latents"].shape))
        return tensors

    first = _run(txt2img, name, callback_on_step_end=on_step_end)
    assert latents == [LATENTS_SHAPE[name]] * 2
    np.testing.assert_array_equal(_run(txt2img, name), first)
    assert not np.array_equal(_run(txt2img, name, seed=1), first)


def test_image_to_image_shares_the_modules(family) -> None:
    from diffusers import AutoPipelineForImage2Image

    name, pipe = family
    if name not in IMG2IMG:
        with pytest.raises(ValueError):
            AutoPipelineForImage2Image.from_pipe(pipe)
        return
    img2img = AutoPipelineForImage2Image.from_pipe(pipe)
    assert type(img2img).__name__ == IMG2IMG[name]
    _assert_shares_modules(img2img, pipe)
    strength = {} if name == "flux1-kontext" else {"strength": 1.0}  # Kontext has no strength
    _run(img2img, name, image=gradient(SIZE), **strength)


def test_inpainting_shares_the_modules(family) -> None:
    from diffusers import AutoPipelineForInpainting

    name, pipe = family
    if name not in INPAINT:
        with pytest.raises(ValueError):
            AutoPipelineForInpainting.from_pipe(pipe)
        return
    inpaint = AutoPipelineForInpainting.from_pipe(pipe)
    assert type(inpaint).__name__ == INPAINT[name]
    _assert_shares_modules(inpaint, pipe)
    _run(inpaint, name, image=gradient(SIZE), mask_image=square_mask(SIZE), strength=1.0)
