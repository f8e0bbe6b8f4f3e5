"""Mask ops that need no model."""

from typing import Annotated

import numpy as np
from PIL import Image, ImageFilter, ImageOps

import opendream
from opendream import Field, ImageLayer, MaskLayer


@opendream.op(title="Invert mask", category="mask")
def invert_mask(mask: MaskLayer) -> MaskLayer:
    """Swap selected and unselected."""
    return MaskLayer(image=ImageOps.invert(mask.get_image().convert("L")))


@opendream.op(title="Feather mask", category="mask")
def feather_mask(
    mask: MaskLayer,
    radius: Annotated[float, Field(ge=0, le=256, description="Blur radius of the edge, in pixels")] = 8.0,
) -> MaskLayer:
    """Soften a mask's edge with a Gaussian blur."""
    return MaskLayer(image=mask.get_image().convert("L").filter(ImageFilter.GaussianBlur(radius)))


def _dilate(selected: np.ndarray, radius: int) -> np.ndarray:
    """``selected`` (bool) grown by ``radius`` px in a square, in log2(radius) steps: growing
    by a then by b grows by a + b."""
    grown, done, step = selected, 0, 1
    while done < radius:
        step = min(step, radius - done)
        wide = np.pad(grown, ((0, 0), (step, step)))
        grown = wide[:, : -2 * step] | wide[:, step:-step] | wide[:, 2 * step :]
        tall = np.pad(grown, ((step, step), (0, 0)))
        grown = tall[: -2 * step] | tall[step:-step] | tall[2 * step :]
        done += step
        step *= 2
    return grown


@opendream.op(title="Mask of the empty area", category="mask")
def empty_area_mask(
    image: ImageLayer,
    grow: Annotated[int, Field(ge=0, le=256, description="Pixels the mask reaches into the picture")] = 8,
    feather: Annotated[float, Field(ge=0, le=256, description="Blur radius of the mask's edge")] = 8.0,
) -> MaskLayer:
    """Select where an image is not fully opaque (what outpainting fills), reaching ``grow``
    pixels into the picture and softened by ``feather``, so the fill blends into what was there.
    The empty area itself stays fully selected: the blur softens the edge into the picture only,
    else the fill would be see-through where there is nothing under it."""
    alpha = np.asarray(image.get_image().convert("RGBA").getchannel("A"))
    empty = alpha < 255
    mask = Image.fromarray(np.where(_dilate(empty, grow), 255, 0).astype(np.uint8), "L")
    if not feather:
        return MaskLayer(image=mask)
    soft = np.asarray(mask.filter(ImageFilter.GaussianBlur(feather)))
    return MaskLayer(image=Image.fromarray(np.where(empty, 255, soft).astype(np.uint8), "L"))
