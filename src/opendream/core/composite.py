"""The canvas as one image: layers placed, masked, faded and blended bottom first.

The blend modes are those of the W3C Compositing and Blending spec, which the browser's Canvas 2D
(``globalCompositeOperation``) implements, so the editor and the export agree to a level or two
of 8-bit rounding. Layer by layer: with a generator that decodes each layer when asked, the peak
memory is the canvas plus one layer (and a band of it in floating point for a blend mode)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageChops, ImageOps

from opendream.core.placement import BlendMode, Placement

#: Rows blended at a time: bounds the floating-point copies of a large layer.
BAND_ROWS = 256


@dataclass
class CanvasLayer:
    """One layer as the canvas shows it: its own pixels and how it is drawn."""

    image: Image.Image
    placement: Placement = field(default_factory=Placement)
    opacity: float = 1.0
    blend: BlendMode = "normal"
    mask: Image.Image | None = None


def _soft_light(backdrop: np.ndarray, source: np.ndarray) -> np.ndarray:
    darkened = np.where(backdrop <= 0.25, ((16 * backdrop - 12) * backdrop + 4) * backdrop, np.sqrt(backdrop))
    return np.where(
        source <= 0.5,
        backdrop - (1 - 2 * source) * backdrop * (1 - backdrop),
        backdrop + (2 * source - 1) * (darkened - backdrop),
    )


def _hard_light(backdrop: np.ndarray, source: np.ndarray) -> np.ndarray:
    return np.where(
        source <= 0.5,
        backdrop * 2 * source,
        backdrop + (2 * source - 1) - backdrop * (2 * source - 1),
    )


#: B(Cb, Cs) of the spec for each separable mode; colours in [0, 1], not premultiplied.
BLEND_FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "multiply": lambda b, s: b * s,
    "screen": lambda b, s: b + s - b * s,
    "overlay": lambda b, s: _hard_light(s, b),
    "soft-light": _soft_light,
}


def blend_pixels(backdrop: np.ndarray, source: np.ndarray, mode: str) -> np.ndarray:
    """``source`` (RGBA uint8) blended onto ``backdrop`` (RGBA uint8, same shape) by ``mode``,
    then composited source-over: the spec's ``co = cs(1-ab) + cb(1-as) + as·ab·B(Cb, Cs)``."""
    cb, ab = backdrop[..., :3] / 255.0, backdrop[..., 3:] / 255.0
    cs, as_ = source[..., :3] / 255.0, source[..., 3:] / 255.0
    mixed = BLEND_FUNCTIONS[mode](cb, cs)
    premultiplied = as_ * (1 - ab) * cs + ab * (1 - as_) * cb + as_ * ab * mixed
    alpha = as_ + ab * (1 - as_)
    colour = np.divide(premultiplied, alpha, out=np.zeros_like(premultiplied), where=alpha > 0)
    out = np.concatenate([colour, alpha], axis=-1) * 255.0
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _prepared(layer: CanvasLayer) -> Image.Image:
    """The layer's pixels with its mask, opacity, flips and scale applied (the layer's own image
    when none of them changes it: a large layer is not copied for nothing)."""
    image = layer.image if layer.image.mode == "RGBA" else layer.image.convert("RGBA")
    if layer.mask is not None or layer.opacity < 1.0:
        alpha = image.getchannel("A")
        if layer.mask is not None:
            mask = layer.mask.convert("L")
            if mask.size != image.size:
                mask = mask.resize(image.size, Image.Resampling.BILINEAR)
            alpha = ImageChops.multiply(alpha, mask)
        if layer.opacity < 1.0:
            alpha = alpha.point([round(a * layer.opacity) for a in range(256)])
        image = image.copy() if image is layer.image else image
        image.putalpha(alpha)
    placement = layer.placement
    if placement.flip_x:
        image = ImageOps.mirror(image)
    if placement.flip_y:
        image = ImageOps.flip(image)
    scaled = placement.scaled_size(image.size)
    if scaled != image.size:
        # Pillow resizes RGBA premultiplied, as the browser draws it.
        image = image.resize(scaled, Image.Resampling.BILINEAR)
    return image


def _draw(canvas: Image.Image, layer: CanvasLayer) -> None:
    left, top, right, bottom = layer.placement.box(layer.image.size)
    visible = (max(left, 0), max(top, 0), min(right, canvas.width), min(bottom, canvas.height))
    if visible[0] >= visible[2] or visible[1] >= visible[3]:
        return  # entirely off the canvas
    image = _prepared(layer)
    source_box = (visible[0] - left, visible[1] - top, visible[2] - left, visible[3] - top)
    if layer.blend == "normal":
        canvas.alpha_composite(image, dest=visible[:2], source=source_box)
        return
    for band_top in range(visible[1], visible[3], BAND_ROWS):
        band = (visible[0], band_top, visible[2], min(band_top + BAND_ROWS, visible[3]))
        source = np.asarray(image.crop((band[0] - left, band[1] - top, band[2] - left, band[3] - top)))
        backdrop = np.asarray(canvas.crop(band))
        canvas.paste(Image.fromarray(blend_pixels(backdrop, source, layer.blend), "RGBA"), band[:2])


def composite(layers: Iterable[CanvasLayer], size: tuple[int, int]) -> Image.Image:
    """Draw ``layers`` bottom first onto a transparent canvas of ``size``, clipped to it."""
    canvas = Image.new("RGBA", size, (0, 0, 0, 0))
    for layer in layers:
        _draw(canvas, layer)
        del layer
    return canvas
