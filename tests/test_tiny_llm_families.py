"""The tiny pipelines of the LLM-text-encoder families load with diffusers' own code, run every
task diffusers' auto pipelines map them to, and are reproducible."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from opendream.diffusion.tiny_llm_families import BUILDERS
from tests.helpers import gradient, square_mask

PIPELINE_CLASS = {
    "qwen-image": "QwenImagePipeline",
    "z-image": "ZImagePipeline",
    "flux2-klein": "Flux2KleinPipeline",
}
# diffusers' AUTO_IMAGE2IMAGE / AUTO_INPAINT_PIPELINES_MAPPING for these families.
IMG2IMG_CLASS = {
    "qwen-image": "QwenImageImg2ImgPipeline",
    "z-image": "ZImageImg2ImgPipeline",
    "flux2-klein": "Flux2KleinPipeline",  # the image is a reference, not a starting point
}
INPAINT_CLASS = {"qwen-image": "QwenImageInpaintPipeline", "z-image": "ZImageInpaintPipeline"}
# The latents callback_on_step_end sees at 64x64: packed 2x2 patches (batch, tokens, channels)
# for Qwen-Image and FLUX.2, a latent image (batch, channels, height, width) for Z-Image.
CALLBACK_LATENTS = {"qwen-image": (1, 16, 64), "z-image": (1, 16, 8, 8), "flux2-klein": (1, 16, 128)}

# (family, kwargs without classifier-free guidance, kwargs with it): Qwen-Image's CFG is
# true_cfg_scale and needs a negative prompt (its guidance_scale is for guidance-distilled
# transformers only); Z-Image's is on for any guidance_scale > 0; FLUX.2 klein's for
# guidance_scale > 1, unless the pipeline's config says is_distilled.
CFG = [
    ("qwen-image", {}, {"negative_prompt": "blurry", "true_cfg_scale": 4.0}),
    ("z-image", {"guidance_scale": 0.0}, {"negative_prompt": "blurry", "guidance_scale": 5.0}),
    ("flux2-klein", {"guidance_scale": 1.0}, {"guidance_scale": 4.0}),
]
# The other tests run without guidance: half the work.
PLAIN = {name: plain for name, plain, _ in CFG}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    built = {}
    for name, build in BUILDERS.items():
        built[name] = tmp_path_factory.mktemp(name)
        build(built[name])
    return built


@pytest.fixture(scope="module")
def pipes(folders: dict[str, Path], pinned_threads: int) -> dict[str, Any]:
    from diffusers import DiffusionPipeline

    loaded = {}
    for name, folder in folders.items():
        loaded[name] = DiffusionPipeline.from_pretrained(folder)
        loaded[name].set_progress_bar_config(disable=True)
    return loaded


def _run(pipe: Any, name: str, **kwargs: Any) -> np.ndarray:
    images = pipe(
        prompt="a red fox",
        num_inference_steps=2,
        height=64,
        width=64,
        generator=torch.Generator("cpu").manual_seed(0),
        output_type="np",
        **{**PLAIN[name], **kwargs},
    ).images
    assert images.shape == (1, 64, 64, 3) and np.isfinite(images).all()
    return images


def test_builders_cover_the_families() -> None:
    assert set(BUILDERS) == set(PIPELINE_CLASS)


@pytest.mark.parametrize("name", PIPELINE_CLASS)
def test_loads_as_its_pipeline_class(name: str, pipes: dict[str, Any], folders: dict[str, Path]) -> None:
    assert type(pipes[name]).__name__ == PIPELINE_CLASS[name]
    assert '"_class_name": "' + PIPELINE_CLASS[name] in (folders[name] / "model_index.json").read_text()


@pytest.mark.parametrize("name", PIPELINE_CLASS)
def test_builds_are_reproducible(name: str, folders: dict[str, Path], tmp_path: Path) -> None:
    BUILDERS[name](tmp_path)
    files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(folders[name]) for p in folders[name].rglob("*") if p.is_file())
    for rel in files:
        assert (tmp_path / rel).read_bytes() == (folders[name] / rel).read_bytes(), rel


@pytest.mark.parametrize("name", PIPELINE_CLASS)
def test_txt2img_is_seeded(name: str, pipes: dict[str, Any]) -> None:
    from diffusers import AutoPipelineForText2Image

    pipe = AutoPipelineForText2Image.from_pipe(pipes[name])
    seen: list[tuple[int, ...]] = []

    def record(_pipe: Any, _step: int, _timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        seen.append(tuple(kwargs["latents"].shape))
        return kwargs

    first = _run(pipe, name, callback_on_step_end=record)
    assert np.array_equal(first, _run(pipe, name))
    assert seen == [CALLBACK_LATENTS[name]] * 2


@pytest.mark.parametrize(("name", "plain", "guided"), CFG)
def test_classifier_free_guidance(name: str, plain: dict, guided: dict, pipes: dict[str, Any]) -> None:
    assert not np.array_equal(_run(pipes[name], name, **plain), _run(pipes[name], name, **guided))


def test_flux2_klein_takes_no_negative_prompt(pipes: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="negative_prompt"):
        _run(pipes["flux2-klein"], "flux2-klein", negative_prompt="blurry")


def test_qwen_template_is_cut_where_the_real_tokenizer_cuts(pipes: dict[str, Any]) -> None:
    # The pipeline drops the first prompt_template_encode_start_idx tokens: exactly the system
    # prompt and the user turn's opening, as with the real Qwen vocabulary.
    pipe = pipes["qwen-image"]
    prefix = pipe.prompt_template_encode.split("{}")[0]
    assert len(pipe.tokenizer(prefix).input_ids) == pipe.prompt_template_encode_start_idx


@pytest.mark.parametrize("name", IMG2IMG_CLASS)
def test_img2img_shares_the_modules(name: str, pipes: dict[str, Any]) -> None:
    from diffusers import AutoPipelineForImage2Image

    derived = AutoPipelineForImage2Image.from_pipe(pipes[name])
    assert type(derived).__name__ == IMG2IMG_CLASS[name]
    assert derived.components["vae"] is pipes[name].vae
    assert derived.components["transformer"] is pipes[name].transformer
    kwargs = {} if name == "flux2-klein" else {"strength": 0.6}
    _run(derived, name, image=gradient(), **kwargs)


@pytest.mark.parametrize("name", INPAINT_CLASS)
def test_inpaint_shares_the_modules(name: str, pipes: dict[str, Any]) -> None:
    from diffusers import AutoPipelineForInpainting

    derived = AutoPipelineForInpainting.from_pipe(pipes[name])
    assert type(derived).__name__ == INPAINT_CLASS[name]
    assert derived.components["vae"] is pipes[name].vae
    _run(derived, name, image=gradient(), mask_image=square_mask(), strength=1.0)


def test_an_input_image_conditions_flux2_klein(pipes: dict[str, Any]) -> None:
    pipe = pipes["flux2-klein"]
    plain = _run(pipe, "flux2-klein")
    assert not np.array_equal(plain, _run(pipe, "flux2-klein", image=gradient()))
    assert not np.array_equal(plain, _run(pipe, "flux2-klein", image=Image.new("RGB", (64, 64), "white")))


def test_flux2_klein_inpaints_outside_the_auto_mapping(pipes: dict[str, Any]) -> None:
    # diffusers has a FLUX.2 klein inpaint pipeline but does not map it for AutoPipelineForInpainting.
    from diffusers import AutoPipelineForInpainting, Flux2KleinInpaintPipeline

    with pytest.raises(ValueError):
        AutoPipelineForInpainting.from_pipe(pipes["flux2-klein"])
    derived = Flux2KleinInpaintPipeline.from_pipe(pipes["flux2-klein"])
    assert derived.components["vae"] is pipes["flux2-klein"].vae
    _run(derived, "flux2-klein", image=gradient(), mask_image=square_mask(), strength=1.0)
