"""Compositing: the canvas as one image."""

from typing import Annotated

from PIL import Image

import opendream
from opendream import Field, ImageLayer, Layer
from opendream.core.composite import CanvasLayer, composite


@opendream.op(title="Flatten", category="compose")
def flatten(
    layers: list[ImageLayer],
    background: Annotated[
        str, Field(pattern=r"^(transparent|#[0-9a-fA-F]{6})$", description="transparent or #rrggbb")
    ] = "transparent",
) -> Layer:
    """Composite the given image layers, first at the bottom, into one image layer the size of
    the first. The canvas's "flatten visible" fills ``layers`` with the visible ones in stack order."""
    if not layers:
        raise ValueError("`layers` has to name at least one image layer")
    size = layers[0].get_image().size
    flat = composite((CanvasLayer(layer.get_image()) for layer in layers), size)
    if background != "transparent":
        base = Image.new("RGBA", size, background)
        flat = Image.alpha_composite(base, flat).convert("RGB")
    return ImageLayer(image=flat)
