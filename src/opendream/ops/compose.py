"""Compositing: the canvas as one image."""

from collections.abc import Iterable
from typing import Annotated

from PIL import Image

import opendream
from opendream import Field, ImageLayer, Layer


def composite(images: Iterable[tuple[Image.Image, float]], size: tuple[int, int]) -> Image.Image:
    """Alpha-composite ``(image, opacity)`` pairs bottom first onto a transparent canvas of ``size``.
    Images of another size are placed at the top-left corner, as on the canvas.

    Layer by layer: pass a generator that decodes each image when asked and the peak memory is
    the canvas plus one layer (and its converted copy), however many layers there are."""
    canvas = Image.new("RGBA", size, (0, 0, 0, 0))
    for image, opacity in images:
        owned = image.mode != "RGBA"  # a converted or cropped copy may be changed; the caller's not
        layer = image.convert("RGBA") if owned else image
        del image  # a decoded RGB image is freed once converted
        if layer.size != size:
            layer, owned = layer.crop((0, 0, *size)), True  # pads with transparency
        if opacity < 1.0:
            alpha = layer.getchannel("A").point([round(a * opacity) for a in range(256)])
            layer = layer if owned else layer.copy()
            layer.putalpha(alpha)
        canvas.alpha_composite(layer)
        del layer
    return canvas


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
    flat = composite([(layer.get_image(), 1.0) for layer in layers], size)
    if background != "transparent":
        base = Image.new("RGBA", size, background)
        flat = Image.alpha_composite(base, flat).convert("RGB")
    return ImageLayer(image=flat)
