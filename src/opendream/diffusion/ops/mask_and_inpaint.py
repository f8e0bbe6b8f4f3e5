"""``mask_and_inpaint``: repaint the masked part of an image layer, keep the rest exactly."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from PIL import Image

import opendream
from opendream import Context, Field, ImageLayer, MaskLayer
from opendream.diffusion.ops._original import from_original
from opendream.fields import (
    FEW_STEP_PRESETS,
    Guidance,
    Loras,
    Model,
    NegativePrompt,
    ScaledSteps,
    SchedulerName,
    Seed,
    Strength,
    text,
)
from opendream.images import pad_to_multiple
from opendream.pipelines import (
    check_image_to_image,
    family_defaults,
    generators,
    model_identity,
    pipeline,
    range_check,
    run_pipeline,
    size_multiple,
)

MAX_FEATHER = 64
MaskPrompt = text("What to paint in the mask")


@opendream.op(
    version="1",
    title="Mask and inpaint",
    category="edit",
    identity=model_identity("inpaint"),
    defaults=family_defaults("inpaint"),
    presets=FEW_STEP_PRESETS,
    # The original defaulted guidance_scale to 11 for inpainting.
    migrate=from_original(
        "mask_and_inpaint", "stabilityai/stable-diffusion-2-inpainting", {"guidance_scale": 11.0}
    ),
)
def mask_and_inpaint(
    mask_layer: MaskLayer,
    image_layer: ImageLayer,
    prompt: MaskPrompt,
    negative_prompt: NegativePrompt = "",
    strength: Annotated[Strength, Field(description="How much to change inside the mask")] = 1.0,
    steps: ScaledSteps = 20,
    guidance_scale: Guidance = 7.5,
    seed: Seed = 42,
    mask_feather: Annotated[int, Field(ge=0, le=MAX_FEATHER, description="Soft edge width in pixels")] = 4,
    scheduler: SchedulerName = "default",
    model: Model = "",
    loras: Loras = [],  # noqa: B006 (validated params are copies; never mutated)
    ctx: Context = None,
) -> ImageLayer:
    """Repaint the white part of ``mask_layer`` in ``image_layer`` following ``prompt``.

    The output has the image's size and mode. The generated pixels are pasted back through
    the mask blurred by ``mask_feather`` px: farther than ``mask_feather`` px from the mask
    the output equals the input exactly. Details:

    - A mask whose size differs from the image is resized to the image (bilinear).
    - Sizes that are not multiples of 8 (16 for the transformer families) are padded (edge
      pixels repeated; the padding is not masked) for the model and cropped back; nothing is
      resampled.
    - An empty mask returns a copy of the image without running the model.
    - An alpha channel is kept from the input.

    Args:
        mask_layer (`MaskLayer`): white (255) = repaint, black = keep.
        image_layer (`ImageLayer`): the picture to edit.
        strength (`float`, defaults to 1.0): 1 repaints from pure noise; lower keeps more of
            what was under the mask.
        mask_feather (`int`, defaults to 4): width of the soft blend at the mask edge, 0-64 px.
        scheduler (`str`, defaults to ``default``, the model's own): a sampler as in ``dream``;
            the few-step presets set ``lcm``, ``tcd`` or ``euler_trailing``.
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
        mask_feather=range_check(mask_feather, 0, MAX_FEATHER),
    )

    # 2. Bring the mask to the image's size
    mask = mask_layer.get_image().convert("L")
    if mask.size != original.size:
        mask = mask.resize(original.size, Image.Resampling.BILINEAR)
    if not np.asarray(mask).any():
        return ImageLayer(image=original.copy())

    # 3. Get the inpainting pipeline, and pad both to the sides it takes
    pipe = pipeline(ctx, "inpaint", model, "inpaint", scheduler, loras)
    image = pad_to_multiple(original.convert("RGB"), size_multiple(pipe), fill="edge")
    model_mask = pad_to_multiple(mask, size_multiple(pipe), fill="zero")

    # 4. Denoise
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


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Square (Chebyshev) dilation of a boolean mask by ``radius`` pixels, separable, numpy only."""
    if radius <= 0:
        return mask.copy()
    from numpy.lib.stride_tricks import sliding_window_view

    size = 2 * radius + 1
    out = np.pad(mask, ((radius, radius), (0, 0)))
    out = sliding_window_view(out, size, axis=0).max(axis=-1)
    out = np.pad(out, ((0, 0), (radius, radius)))
    return sliding_window_view(out, size, axis=1).max(axis=-1)


def feathered_alpha(mask: Image.Image, feather: int) -> Image.Image:
    """The paste-back alpha: ``mask`` blurred by ``feather`` px, and exactly 0 farther than
    ``feather`` px from any selected pixel (so the input is kept bit-for-bit there)."""
    from PIL import ImageFilter

    if feather <= 0:
        return mask
    blurred = np.asarray(mask.filter(ImageFilter.GaussianBlur(feather / 3)))
    band = dilate(np.asarray(mask) > 0, feather)
    return Image.fromarray(np.where(band, blurred, 0).astype(np.uint8), "L")
