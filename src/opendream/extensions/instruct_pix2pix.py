"""InstructPix2Pix: edit an image layer by following a written instruction ("make it snow").

A bundled extension: only the public op API; torch and diffusers are imported when it runs."""

from __future__ import annotations

from typing import Annotated

import opendream
from opendream import Context, Field, ImageLayer
from opendream.fields import Guidance, Model, NegativePrompt, Seed, Steps, text
from opendream.images import pad_to_multiple
from opendream.pipelines import check_inputs, generators, model_identity, pipeline, run_pipeline, side_check

Instruction = text("What to change, e.g. 'turn it into a watercolour'")


@opendream.op(version="1", title="Instruct Pix2Pix", category="edit", identity=model_identity("pix2pix"))
def instruct_pix2pix(
    image: ImageLayer,
    instruction: Instruction,
    negative_prompt: NegativePrompt = "",
    image_guidance_scale: Annotated[
        float, Field(ge=1, le=10, description="How closely to keep the input image (1 = loosely)")
    ] = 1.5,
    guidance_scale: Annotated[Guidance, Field(description="How closely to follow the instruction")] = 7.5,
    steps: Steps = 20,
    seed: Seed = 42,
    model: Model = "",
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
    check_inputs(
        "instruct_pix2pix",
        image=side_check(source.size),
        instruction=(bool(instruction.strip()), "is empty; say what to change"),
    )

    # 2. A per-run instance of the cached pipeline; denoise with progress, previews and cancel
    (edited,) = run_pipeline(
        ctx,
        pipeline(ctx, "pix2pix", model, "pix2pix"),
        "instruct_pix2pix",
        prompt=instruction,
        negative_prompt=negative_prompt or None,
        image=pad_to_multiple(source.convert("RGB")),
        num_inference_steps=steps,
        image_guidance_scale=image_guidance_scale,
        guidance_scale=guidance_scale,
        generator=generators(ctx, seed, 1),
    )
    return ImageLayer(image=edited.crop((0, 0, width, height)))
