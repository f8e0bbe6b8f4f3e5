"""Safe image decoding and deterministic PNG encoding.

Untrusted bytes are checked for format and pixel count *before* decoding, so a
decompression bomb or a non-image is refused cheaply."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PIL import Image

from opendream.core.errors import ImageRejected, OpFailed, PixelBudgetExceeded

ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP")
# The largest canvas a project allows (project.MAX_SIZE squared): its exported PNG has to
# import again, and a layer the size of the canvas has to be readable.
MAX_PIXELS = 8192 * 8192
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024


def decode_image(data: bytes, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode PNG/JPEG/WebP bytes into a loaded PIL image, or raise ``ImageRejected``."""
    if not data:
        raise ImageRejected("image is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
            width, height = image.size
            if width <= 0 or height <= 0:
                raise ImageRejected(f"image has an invalid size {width}x{height}")
            if width * height > max_pixels:
                raise ImageRejected(
                    f"image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}"
                )
            image.load()
    except ImageRejected:
        raise
    except Image.UnidentifiedImageError as exc:
        # PIL's text names its buffer object (`<_io.BytesIO object at 0x…>`), nothing for a user.
        raise ImageRejected("not a PNG, JPEG or WebP image") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(f"image is too large to decode safely ({exc})") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageRejected(f"image is corrupt or truncated ({exc})") from exc
    return image


def peek_size(path: Path) -> tuple[int, int]:
    """Width and height of the image file at ``path``, read from its header (nothing decoded)."""
    try:
        with Image.open(path, formats=list(ALLOWED_FORMATS)) as image:
            return image.size
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageRejected(f"not a readable PNG, JPEG or WebP image ({exc})") from exc


def check_pixel_budget(sizes: Iterable[tuple[int, int]], budget: int, what: str) -> None:
    """Raise ``PixelBudgetExceeded`` when decoding images of ``sizes`` costs more than
    ``budget`` pixels. ``what`` names the work, e.g. ``exporting the canvas``."""
    sizes = list(sizes)
    total = sum(width * height for width, height in sizes)
    if total > budget:
        raise PixelBudgetExceeded(
            f"{what} decodes {total} pixels ({len(sizes)} images); the limit is {budget} pixels "
            "per request (OPENDREAM_PIXEL_BUDGET)"
        )


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes with no metadata and fixed settings, so equal pixels give equal bytes."""
    if image.mode not in ("RGB", "RGBA", "L"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def pipeline_images(pixels: Any, op: str) -> list[Image.Image]:
    """RGB images from a diffusers pipeline's ``output_type="np"`` result: floats in [0, 1],
    shaped (images, height, width, 3). NaN or infinite pixels (a float16 VAE overflowing, a
    broken model) raise ``OpFailed`` naming ``op`` and what to try."""
    import numpy as np

    array = np.asarray(pixels)
    if not np.isfinite(array).all():
        raise OpFailed(
            f"{op}: the model produced NaN/inf pixels (common with float16 VAEs); try another seed, "
            "less guidance, or run in float32 (OPENDREAM_DEVICE=cpu)"
        )
    return [Image.fromarray((image * 255).round().clip(0, 255).astype(np.uint8), "RGB") for image in array]
