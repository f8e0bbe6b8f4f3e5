"""Helpers every kind of test uses: test pictures, and a registry of its own for a module's test
ops. Import them by name; fixtures come from ``conftest.py`` and its plugins instead."""

from __future__ import annotations

from PIL import Image

from opendream.core.registry import REGISTRY, OpRegistry
from opendream.engine.loader import load_builtin_ops


def builtin_registry() -> OpRegistry:
    """A registry of the built-in and bundled ops for a test module to add its own ops to
    (``@opendream.op(registry=...)``) and give to its workspaces: they stay out of the global
    ``REGISTRY``, so out of every other test and out of the op listings."""
    load_builtin_ops(REGISTRY)  # the modules are imported once: a no-op after conftest's
    return REGISTRY.copy()


def square_mask(size: int = 64, box: tuple[int, int, int, int] = (16, 16, 48, 48)) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    mask.paste(255, box)
    return mask


def gradient(size: int = 64) -> Image.Image:
    image = Image.new("RGB", (size, size))
    image.putdata([(x * 4 % 256, y * 4 % 256, (x + y) % 256) for y in range(size) for x in range(size)])
    return image
