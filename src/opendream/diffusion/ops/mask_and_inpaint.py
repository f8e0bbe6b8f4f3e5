"""``mask_and_inpaint``: repaint the masked part of an image layer, keep the rest exactly."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from PIL import Image

import opendream
from opendream import Context, Field, ImageLayer, MaskLayer
from opendream.diffusion.ops._common import (
    cached_pipeline,
    check_image_to_image,
    feathered_alpha,
    generators,
    model_identity,
    pad_to_multiple,
    run_instance,
    run_pipeline,
)
from opendream.diffusion.ops._original import from_original

MAX_FEATHER = 64


@opendream.op(
    version="1",
    title="Mask and inpaint",
    category="edit",
    identity=model_identity("inpaint"),
    # The original defaulted guidance_scale to 11 for inpainting.
    migrate=from_original(
        "mask_and_inpaint", "stabilityai/stable-diffusion-2-inpainting", {"guidance_scale": 11.0}
    ),
)
def mask_and_inpaint(
    mask_layer: MaskLayer,
    image_layer: ImageLayer,
    prompt: Annotated[
        str,
        Field(
            description="What to paint in the mask", max_length=4000, json_schema_extra={"widget": "textarea"}
        ),
    ],
    negative_prompt: Annotated[
        str, Field(description="What to avoid", max_length=4000, json_schema_extra={"widget": "textarea"})
    ] = "",
    strength: Annotated[float, Field(gt=0, le=1, description="How much to change inside the mask")] = 1.0,
    steps: Annotated[int, Field(ge=1, le=150, description="Denoising steps (scaled by strength)")] = 20,
    guidance_scale: Annotated[float, Field(ge=0, le=30)] = 7.5,
    seed: Annotated[int, Field(ge=0, le=2**32 - 1, json_schema_extra={"x-opendream-widget": "seed"})] = 42,
    mask_feather: Annotated[int, Field(ge=0, le=MAX_FEATHER, description="Soft edge width in pixels")] = 4,
    model: Annotated[str, Field(description="Repo id, folder or .safetensors file; empty = default")] = "",
    ctx: Context = None,
) -> ImageLayer:
    """Repaint the white part of ``mask_layer`` in ``image_layer`` following ``prompt``.

    The output has the image's size and mode. The generated pixels are pasted back through
    the mask blurred by ``mask_feather`` px: farther than ``mask_feather`` px from the mask
    the output equals the input exactly. Details:

    - A mask whose size differs from the image is resized to the image (bilinear).
    - Sizes that are not multiples of 8 are padded (edge pixels repeated; the padding is not
      masked) for the model and cropped back; nothing is resampled.
    - An empty mask returns a copy of the image without running the model.
    - An alpha channel is kept from the input.

    Args:
        mask_layer (`MaskLayer`): white (255) = repaint, black = keep.
        image_layer (`ImageLayer`): the picture to edit.
        strength (`float`, defaults to 1.0): 1 repaints from pure noise; lower keeps more of
            what was under the mask.
        mask_feather (`int`, defaults to 4): width of the soft blend at the mask edge, 0-64 px.
        steps, guidance_scale, seed, model: as in ``dream`` (``model`` defaults to the
            ``inpaint_model`` setting).
    """
    # 1. Check inputs
    original = image_layer.get_image()
    width, height = original.size
    check_image_to_image(
        "mask_and_inpaint",
        (width, height),
        strength,
        steps,
        guidance_scale,
        mask_feather=(
            0 <= mask_feather <= MAX_FEATHER,
            f"has to be between 0 and {MAX_FEATHER} but is {mask_feather!r}",
        ),
    )

    # 2. Bring the mask to the image's size
    mask = mask_layer.get_image().convert("L")
    if mask.size != original.size:
        mask = mask.resize(original.size, Image.Resampling.BILINEAR)
    if not np.asarray(mask).any():
        return ImageLayer(image=original.copy())

    # 3. Pad both to multiples of 8 for the model
    image = pad_to_multiple(original.convert("RGB"), fill="edge")
    model_mask = pad_to_multiple(mask, fill="zero")

    # 4. Get the inpainting pipeline and denoise
    pipe = run_instance(cached_pipeline(ctx, "inpaint", model, "inpaint"))
    (generated,) = run_pipeline(
        ctx,
        pipe,
        "mask_and_inpaint",
        prompt=prompt,
        negative_prompt=negative_prompt or None,
        image=image,
        mask_image=model_mask,
        width=image.width,
        height=image.height,
        strength=strength,
        num_inference_steps=steps,
        guidance_scale=guidance_scale,
        generator=generators(ctx, seed, 1),
    )

    # 5. Crop, then paste back through the feathered mask (exact outside the band)
    generated = generated.crop((0, 0, width, height))
    base = original if original.mode in ("RGB", "RGBA") else original.convert("RGB")
    if base.mode == "RGBA":
        generated = generated.convert("RGBA")
        generated.putalpha(base.getchannel("A"))
    result = Image.composite(generated, base, feathered_alpha(mask, mask_feather))
    return ImageLayer(image=result)
