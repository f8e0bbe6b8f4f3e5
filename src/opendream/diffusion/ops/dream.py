"""``dream``: text to image, with a model of any family that has a text-to-image pipeline."""

from __future__ import annotations

from typing import Annotated, Literal

import opendream
from opendream import Context, Field, ImageLayer
from opendream.diffusion.ops._original import from_original
from opendream.fields import FEW_STEP_PRESETS, Loras, Model, SchedulerName, TextToImage
from opendream.pipelines import (
    check_inputs,
    family_defaults,
    generators,
    model_identity,
    pipeline,
    range_check,
    run_pipeline,
    size_multiple,
    use_tiny_autoencoder,
)

MAX_IMAGES = 8


@opendream.op(
    version="1",
    title="Dream",
    category="generate",
    identity=model_identity("dream"),
    defaults=family_defaults("dream"),
    presets=FEW_STEP_PRESETS,
    migrate=from_original("dream", "runwayml/stable-diffusion-v1-5"),
)
def dream(
    generation: TextToImage,
    scheduler: SchedulerName = "euler_a",
    num_images: Annotated[int, Field(ge=1, le=MAX_IMAGES, description="Each image becomes a layer")] = 1,
    model: Model = "",
    loras: Loras = [],  # noqa: B006 (validated params are copies; never mutated)
    decoder: Annotated[
        Literal["full", "fast"], Field(description="fast: the tiny autoencoder's rougher picture, for drafts")
    ] = "full",
    ctx: Context = None,
) -> list[ImageLayer]:
    """Generate images from a text prompt.

    Args:
        generation (`TextToImage`): its params
            - prompt (`str`): what to draw.
            - negative_prompt (`str`, *optional*): what to steer away from.
            - width, height (`int`, defaults to the canvas size, else 512): output size;
              multiples of 8 between 64 and 2048.
            - steps (`int`, defaults to 20): denoising steps; more is slower and usually cleaner.
            - guidance_scale (`float`, defaults to 7.5): classifier-free guidance; 0-1 disables it.
            - seed (`int`, defaults to 42): image ``i`` uses ``seed + i``, so each image of a
              batch can be reproduced alone.
        scheduler (`str`, defaults to ``euler_a``): the sampler.
        num_images (`int`, defaults to 1): how many images (layers) to make.
        loras (`list`, *optional*): ``{"model", "weight"}`` LoRAs applied for this run.
        decoder (`str`, defaults to ``full``): ``fast`` decodes with the family's tiny
            autoencoder (taesd …): a rougher picture in a fraction of the time, for drafts.
        model (`str`, *optional*): a hub repo id, a diffusers folder or a ``.safetensors`` file
            of any family with text to image (SD 1.x/2.x, SDXL, SD 3, Flux, Qwen-Image, Z-Image,
            Chroma ...); empty uses the ``dream_model`` setting. Omitted parameters take the
            family's defaults (``opendream.pipelines.family_defaults``).

    Returns:
        `list[ImageLayer]`: ``num_images`` layers of ``width`` x ``height``.
    """
    # 1. Check inputs (also done by the schema; repeated for direct Python calls, where
    #    ``TextToImage`` checks its own when made)
    check_inputs("dream", num_images=range_check(num_images, 1, MAX_IMAGES))

    # 2. Get the pipeline (loaded once by the model manager) and a per-run instance
    pipe = pipeline(ctx, "txt2img", model, "dream", scheduler, loras)
    if decoder == "fast":
        use_tiny_autoencoder(ctx, pipe)

    # 3. Denoise at the sides the model takes (a multiple of 16 for Flux ...), reporting
    #    progress and honouring cancel
    multiple = size_multiple(pipe)
    width, height = generation.width, generation.height
    images = run_pipeline(
        ctx,
        pipe,
        "dream",
        prompt=generation.prompt,
        negative_prompt=generation.negative_prompt or None,
        width=-(-width // multiple) * multiple,
        height=-(-height // multiple) * multiple,
        num_inference_steps=generation.steps,
        guidance_scale=generation.guidance_scale,
        num_images_per_prompt=num_images,
        generator=generators(ctx, generation.seed, num_images),
    )

    # 4. Each image, cropped to the size asked for, becomes a layer
    return [ImageLayer(image=image.crop((0, 0, width, height))) for image in images]
