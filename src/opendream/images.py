"""Image helpers for ops: decode untrusted bytes safely, encode PNG deterministically, turn a
diffusers pipeline's output into PIL images, pad to the multiples a model needs."""

from __future__ import annotations

from typing import Literal

import numpy as np
from PIL import Image

from opendream.core.images import MAX_DOWNLOAD_BYTES, MAX_PIXELS, decode_image, encode_png, pipeline_images

__all__ = [
    "MAX_DOWNLOAD_BYTES",
    "MAX_PIXELS",
    "decode_image",
    "encode_png",
    "pad_to_multiple",
    "pipeline_images",
]


def pad_to_multiple(
    image: Image.Image, multiple: int = 8, fill: Literal["edge", "zero"] = "edge", at_least: int = 0
) -> Image.Image:
    """Pad ``image`` on the right and bottom so both sides are multiples of ``multiple``, and at
    least ``at_least`` pixels (edge pixels repeated, or zeros). No resampling, so cropping back
    restores it exactly."""
    width, height = image.size

    def padded(side: int) -> int:
        return -(-max(side, at_least) // multiple) * multiple

    pad_w, pad_h = padded(width) - width, padded(height) - height
    if not pad_w and not pad_h:
        return image
    array = np.asarray(image)
    pads = [(0, pad_h), (0, pad_w)] + [(0, 0)] * (array.ndim - 2)
    padded = np.pad(array, pads, mode="edge") if fill == "edge" else np.pad(array, pads)
    return Image.fromarray(padded, image.mode)
