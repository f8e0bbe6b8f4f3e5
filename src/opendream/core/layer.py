"""Pixel values handed to and returned from ops.

These are the objects an op sees: a ``Layer`` wraps a PIL image. Their methods keep the
original Opendream's ``opendream.layer.Layer`` working unchanged (``Layer(image=...)``,
``get_image()``, ``get_np_image()``, base64 helpers, ``from_path``)."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from opendream.core.images import MAX_DOWNLOAD_BYTES, decode_image

_PNG_DATA_URI = "data:image/png;base64,"


class Layer:
    """An image produced or consumed by an op. Ops never mutate the layers they receive."""

    kind = "image"

    def __init__(self, image: Image.Image, metadata: dict | None = None, **kwargs: Any) -> None:
        if not isinstance(image, Image.Image):
            raise TypeError(f"`image` has to be a PIL image but is {type(image).__name__}")
        self.image = image
        self.id: str | int = -1
        self.metadata = dict(metadata or {})
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, size={self.image.size}, mode={self.image.mode})"

    def get_image(self) -> Image.Image:
        return self.image

    def get_np_image(self) -> np.ndarray:
        return np.array(self.image)

    def get_id(self) -> str | int:
        return self.id

    def set_id(self, layer_id: str | int) -> None:
        self.id = layer_id

    def get_metadata(self) -> dict:
        return self.metadata

    def set_metadata(self, metadata: dict) -> None:
        self.metadata = metadata

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size

    def resize(self, width: int, height: int, resample: int = Image.Resampling.LANCZOS) -> Layer:
        """A new layer of the same class with the image resized to ``width`` x ``height``."""
        return type(self)(
            image=self.image.resize((int(width), int(height)), resample), metadata=self.metadata
        )

    def resize_to_nearest_eighth(self) -> Layer:
        """A new layer whose sides are rounded down to multiples of 8 (diffusion models need them)."""
        width, height = self.image.size
        return self.resize(max(8, width - width % 8), max(8, height - height % 8))

    @staticmethod
    def pil_to_b64(pil_img: Image.Image) -> str:
        buffered = io.BytesIO()
        pil_img.save(buffered, format="PNG")
        return _PNG_DATA_URI + base64.b64encode(buffered.getvalue()).decode("ascii")

    @staticmethod
    def b64_to_pil(b64_str: str) -> Image.Image:
        payload = b64_str.split(",", 1)[1] if b64_str.startswith("data:") else b64_str
        return decode_image(base64.b64decode(payload))

    @classmethod
    def b64_to_layer(cls, b64_str: str) -> Layer:
        return cls(image=cls.b64_to_pil(b64_str))

    def serialize(self) -> dict:
        return {"id": self.id, "metadata": self.metadata, "image": Layer.pil_to_b64(self.image)}

    @classmethod
    def from_path(cls, path: str | Path, metadata: dict | None = None, **kwargs: Any) -> Layer:
        if str(path).startswith(("http://", "https://")):
            return cls.from_url(str(path), metadata, **kwargs)
        return cls(image=decode_image(Path(path).read_bytes()), metadata=metadata, **kwargs)

    @classmethod
    def from_url(cls, url: str, metadata: dict | None = None, **kwargs: Any) -> Layer:
        """Fetch an image over http(s), size-capped, with a timeout (remote ops return URLs)."""
        import urllib.request

        if not url.startswith(("http://", "https://")):
            raise ValueError(f"`url` has to be http(s) but is {url!r}")
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read(MAX_DOWNLOAD_BYTES + 1)
        if len(data) > MAX_DOWNLOAD_BYTES:
            raise ValueError(f"image at {url} is larger than {MAX_DOWNLOAD_BYTES} bytes")
        return cls(image=decode_image(data), metadata=metadata, **kwargs)


class ImageLayer(Layer):
    """A colour image layer (RGB or RGBA)."""


class MaskLayer(Layer):
    """A single-channel mask: white (255) is selected, black (0) is not."""

    kind = "mask"

    def __init__(self, image: Image.Image, metadata: dict | None = None, **kwargs: Any) -> None:
        if isinstance(image, Image.Image) and image.mode != "L":
            image = image.convert("L")
        super().__init__(image, metadata, **kwargs)
