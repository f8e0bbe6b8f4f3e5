"""Shared fixtures: a workspace on a temporary data directory with the built-in ops."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from opendream.core.registry import REGISTRY, OpRegistry
from opendream.engine.loader import load_builtin_ops
from opendream.engine.runtime import make_runtime
from opendream.settings import Settings

if TYPE_CHECKING:
    from opendream.engine.workspace import Workspace

load_builtin_ops(REGISTRY)
# The tests' exact pixels are torch's; tests/test_openvino.py asks for OpenVINO itself. Servers the
# browser tests start inherit it.
os.environ.setdefault("OPENDREAM_BACKEND", "torch")
# The tiny diffusion models and their manager, built once for the whole session.
pytest_plugins = ["tests.diffusion_fixtures"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def workspace(settings: Settings) -> Iterator[Workspace]:
    """A workspace without the model manager: for model-free ops (fast, no torch)."""
    from opendream.engine.workspace import Workspace

    ws = Workspace(settings, runtime=make_runtime(settings, load_models=False), extensions=[])
    yield ws
    ws.close()


@pytest.fixture
def registry() -> OpRegistry:
    """An empty registry for defining test ops without touching the global one."""
    return OpRegistry()


def square_mask(size: int = 64, box: tuple[int, int, int, int] = (16, 16, 48, 48)) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    mask.paste(255, box)
    return mask


def gradient(size: int = 64) -> Image.Image:
    image = Image.new("RGB", (size, size))
    image.putdata([(x * 4 % 256, y * 4 % 256, (x + y) % 256) for y in range(size) for x in range(size)])
    return image
