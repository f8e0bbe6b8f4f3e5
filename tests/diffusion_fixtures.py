"""Fixtures for the diffusion tests: tiny models built once per session, a manager, a context.

A pytest plugin of ``tests/conftest.py``: every test module can ask for the fixtures by name;
import the helpers (``make_context``, ``run_op``, ``png_bytes``) explicitly."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from opendream import Context
from opendream.settings import Settings

THREADS = 2


@pytest.fixture(scope="session")
def pinned_threads() -> Iterator[int]:
    """Pin torch's thread count: a few pixels may differ between thread counts."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield THREADS
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every tiny model, built once per test session (~4 s)."""
    from opendream.diffusion.tiny import ensure_tiny_models

    folder = tmp_path_factory.mktemp("tiny-models")
    ensure_tiny_models(folder)
    return folder


@pytest.fixture(scope="session")
def family_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny pipeline of every other family (SDXL, SD 3, Flux.1 …), built once per session."""
    from opendream.diffusion.tiny_families import TINY_FAMILIES, ensure_tiny_family

    folder = tmp_path_factory.mktemp("tiny-families")
    return {name: ensure_tiny_family(name, folder) for name in TINY_FAMILIES}


@pytest.fixture(scope="session")
def tiny_settings(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        tiny_models=True, tiny_models_dir=tiny_dir, data_dir=tmp_path_factory.mktemp("data"), device="cpu"
    )


@pytest.fixture(scope="session")
def tiny_manager(tiny_settings: Settings, pinned_threads: int) -> Any:
    """One manager shared by the op tests (loads each tiny model once)."""
    from opendream.diffusion.manager import ModelManager

    return ModelManager(tiny_settings, device="cpu", dtype="float32")


@pytest.fixture
def tiny_client(tiny_dir: Path, tmp_path: Path, pinned_threads: int) -> Iterator[Any]:
    """A test client of the app with the tiny models, on a fresh data directory."""
    from fastapi.testclient import TestClient

    from opendream.engine.workspace import Workspace
    from opendream.server.app import create_app
    from tests.server_fixtures import BASE

    settings = Settings(data_dir=tmp_path, tiny_models=True, tiny_models_dir=tiny_dir, device="cpu")
    workspace = Workspace(settings)
    with TestClient(create_app(settings, workspace=workspace), base_url=BASE) as client:
        yield client
    workspace.close()


class Recorder:
    """Collects progress reports; can cancel the context at a given step."""

    def __init__(self, cancel_at: int | None = None) -> None:
        self.events: list[tuple[int, int, Image.Image | None]] = []
        self.cancel_at = cancel_at
        self.ctx: Context | None = None

    def __call__(self, step: int, total: int, preview: Image.Image | None) -> None:
        self.events.append((step, total, preview))
        if self.cancel_at is not None and step >= self.cancel_at and self.ctx is not None:
            self.ctx.cancel()


def make_context(
    manager: Any, settings: Settings, op_name: str = "op", cancel_at: int | None = None
) -> Context:
    recorder = Recorder(cancel_at)
    ctx = Context(op_name=op_name, models=manager, settings=settings, on_progress=recorder)
    recorder.ctx = ctx
    ctx.recorder = recorder  # type: ignore[attr-defined]
    return ctx


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def run_op(
    name: str, params: dict, layers: dict, manager: Any, settings: Settings, **ctx_kwargs: Any
) -> list:
    """Validate ``params`` like the engine does, then call the op with a real ``Context``."""
    from opendream.core.registry import REGISTRY

    spec = REGISTRY.get(name)
    ctx = make_context(manager, settings, name, **ctx_kwargs)
    return spec.call(spec.validate_params(params), layers, ctx)
