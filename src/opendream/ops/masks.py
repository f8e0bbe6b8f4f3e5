"""Mask ops that need no model."""

from typing import Annotated

from PIL import ImageFilter, ImageOps

import opendream
from opendream import Field, MaskLayer


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
