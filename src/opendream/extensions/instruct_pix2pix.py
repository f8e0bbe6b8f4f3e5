"""InstructPix2Pix: edit an image layer by following a written instruction ("make it snow").

A bundled extension: only the public op API; torch and diffusers are imported when it runs."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from PIL import Image

import opendream
from opendream import Context, Field, ImageLayer
from opendream.core.errors import InvalidParams, OpFailed
from opendream.core.images import pipeline_images

MAX_SIDE = 2048


def _identity(params: dict, ctx: Any) -> dict:
    if ctx is None or ctx.models is None:
        return {}
    return {"model": ctx.models.identity(str(params.get("model") or ""), "pix2pix")}


def _pad_edges(image: Image.Image) -> Image.Image:
    """Pad right/bottom to multiples of 8 by repeating edge pixels (cropped off afterwards)."""
    array = np.asarray(image)
    pad_h, pad_w = (-array.shape[0]) % 8, (-array.shape[1]) % 8
    return Image.fromarray(np.pad(array, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge"), "RGB")


@opendream.op(version="1", title="Instruct Pix2Pix", category="edit", identity=_identity)
def instruct_pix2pix(
    image: ImageLayer,
    instruction: Annotated[
        str,
        Field(
            description="What to change, e.g. 'turn it into a watercolour'",
            max_length=4000,
            json_schema_extra={"widget": "textarea"},
        ),
    ],
    negative_prompt: Annotated[
        str, Field(description="What to avoid", max_length=4000, json_schema_extra={"widget": "textarea"})
    ] = "",
    image_guidance_scale: Annotated[
        float, Field(ge=1, le=10, description="How closely to keep the input image (1 = loosely)")
    ] = 1.5,
    guidance_scale: Annotated[
        float, Field(ge=0, le=30, description="How closely to follow the instruction")
    ] = 7.5,
    steps: Annotated[int, Field(ge=1, le=150, description="Denoising steps")] = 20,
    seed: Annotated[int, Field(ge=0, le=2**32 - 1, json_schema_extra={"x-opendream-widget": "seed"})] = 42,
    model: Annotated[str, Field(description="Repo id, folder or .safetensors file; empty = default")] = "",
    ctx: Context = None,
) -> ImageLayer:
    """Edit ``image`` following ``instruction`` (InstructPix2Pix).

    The output has the input's size: sides that are not multiples of 8 are padded for the model
    (edge pixels repeated) and cropped back. An alpha channel is dropped.

    Args:
        image (`ImageLayer`): the picture to edit.
        instruction (`str`): the edit, phrased as an instruction.
        image_guidance_scale (`float`, defaults to 1.5): higher keeps more of the input.
        guidance_scale (`float`, defaults to 7.5): higher follows the instruction more.
        steps, seed: the sampler settings.
        model (`str`): an InstructPix2Pix pipeline; empty = the ``pix2pix_model`` setting.
    """
    # 1. Check inputs before loading anything
    source = image.get_image()
    width, height = source.size
    errors = []
    if max(width, height) > MAX_SIDE:
        errors.append(
            {"param": "image", "message": f"has to be at most {MAX_SIDE} px per side but is {width}x{height}"}
        )
    if not instruction.strip():
        errors.append({"param": "instruction", "message": "is empty; say what to change"})
    if errors:
        raise InvalidParams("instruct_pix2pix", errors)
    if ctx is None or ctx.models is None:
        raise OpFailed("instruct_pix2pix needs the diffusion extra (torch, diffusers) and a model manager")

    # 2. A per-run pipeline instance (shared weights, own scheduler state)
    import torch

    cached = ctx.models.get(
        "pix2pix", model, role="pix2pix", progress=ctx.download_progress, status=ctx.status
    )
    scheduler = type(cached.scheduler).from_config(cached.scheduler.config)
    pipe = type(cached)(**{**cached.components, "scheduler": scheduler}, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)

    def on_step_end(p: Any, i: int, t: Any, kwargs: dict) -> dict:
        ctx.check_cancelled()
        ctx.progress(i + 1, int(p.num_timesteps))
        return {}

    # 3. Denoise, reporting progress and honouring cancel
    ctx.check_cancelled()
    with torch.inference_mode():
        result = pipe(
            prompt=instruction,
            negative_prompt=negative_prompt or None,
            image=_pad_edges(source.convert("RGB")),
            num_inference_steps=steps,
            image_guidance_scale=image_guidance_scale,
            guidance_scale=guidance_scale,
            generator=ctx.generator(seed),
            output_type="np",
            callback_on_step_end=on_step_end,
        )
    (edited,) = pipeline_images(result.images, "instruct_pix2pix")
    return ImageLayer(image=edited.crop((0, 0, width, height)))
