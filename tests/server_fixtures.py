"""Shared helpers for the server tests: an app on a temporary data directory, test ops, images.

A pytest plugin of ``tests/conftest.py``: test modules ask for the ``app`` and ``client``
fixtures by name and import the helpers (``make_app``, ``new_project`` ...) explicitly. The test
ops live in ``SERVER_OPS``, never in the global registry; each app runs a copy of it."""

from __future__ import annotations

import io
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

import opendream
from opendream import Context, Field, ImageLayer
from opendream.core.registry import OpRegistry
from opendream.engine.runtime import make_runtime
from opendream.engine.workspace import Workspace
from opendream.server.app import create_app
from opendream.settings import Settings
from tests.helpers import builtin_registry

BASE = "http://127.0.0.1:8000"
WS = "ws://127.0.0.1:8000/api/ws"
#: The built-in ops and the server tests' ops below.
SERVER_OPS = builtin_registry()


@opendream.op(registry=SERVER_OPS, title="Slow (test)", category="test")
def server_test_slow(
    steps: Annotated[int, Field(ge=1, le=10_000)] = 5,
    delay: Annotated[float, Field(ge=0, le=5)] = 0.01,
    seed: int = 0,
    ctx: Context = None,
) -> ImageLayer:
    """Counts ``steps`` with progress and a preview, checking for cancellation."""
    colour = (seed % 256, 80, 160)
    for step in range(steps):
        ctx.check_cancelled()
        time.sleep(delay)
        ctx.progress(step + 1, steps, Image.new("RGB", (32, 32), colour) if step == 0 else None)
    return ImageLayer(image=Image.new("RGB", (16, 16), colour))


@opendream.op(registry=SERVER_OPS, title="Downloads (test)", category="test")
def server_test_download(chunks: Annotated[int, Field(ge=1, le=10)] = 3, ctx: Context = None) -> ImageLayer:
    """Says what it does, then reports a model download in ``chunks`` parts, as a diffusion op
    fetching weights would."""
    ctx.status("fetching weights (test)")
    for part in range(1, chunks + 1):
        ctx.download_progress(part * 1000, chunks * 1000)
    return ImageLayer(image=Image.new("RGB", (8, 8), (10, 20, 30)))


@opendream.op(registry=SERVER_OPS, title="Fails (test)", category="test")
def server_test_fail(message: str = "boom") -> ImageLayer:
    """Always raises."""
    raise RuntimeError(message)


@opendream.op(registry=SERVER_OPS, title="Tint (test)", category="test")
def server_test_tint(image: ImageLayer, amount: Annotated[int, Field(ge=0, le=255)] = 10) -> ImageLayer:
    """A descendant: shifts the red channel of its input."""
    red, green, blue = image.get_image().convert("RGB").split()
    return ImageLayer(image=Image.merge("RGB", (red.point(lambda v: min(255, v + amount)), green, blue)))


def png_bytes(size: tuple[int, int] = (16, 16), colour: Any = (200, 30, 30), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def mask_bytes(size: int = 32) -> bytes:
    """A white square on black: feathering and inverting it change its pixels."""
    image = Image.new("L", (size, size), 0)
    image.paste(255, (size // 4, size // 4, 3 * size // 4, 3 * size // 4))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=data_dir, device="cpu", **overrides)


def make_app(
    data_dir: Path, *, workers: int = 1, registry: OpRegistry = SERVER_OPS, **overrides: Any
) -> FastAPI:
    """The app on ``data_dir``, running a copy of ``registry``: the extension files it loads
    (from ``data_dir/extensions``) stay out of every other app's registry."""
    settings = make_settings(data_dir, **overrides)
    # No model manager: these tests use model-free ops, and importing torch costs seconds.
    workspace = Workspace(
        settings, registry=registry.copy(), runtime=make_runtime(settings, load_models=False)
    )
    return create_app(settings, workspace=workspace, workers=workers)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    application = make_app(tmp_path / "data")
    yield application
    application.state.opendream.workspace.close()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE) as test_client:
        yield test_client


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def wait_idle(client: httpx.Client, project_id: str, timeout: float = 10.0) -> dict:
    """Wait until the project has no queued or running job; return the project (a test client's,
    or a real server's)."""

    def idle() -> bool:
        jobs = client.get("/api/jobs", params={"project": project_id}).json()
        return all(j["state"] not in ("queued", "running") for j in jobs)

    wait_for(idle, timeout, f"project {project_id} to go idle")
    return client.get(f"/api/projects/{project_id}").json()


def new_project(client: httpx.Client, **body: Any) -> dict:
    response = client.post("/api/projects", json={"name": "test", **body})
    assert response.status_code == 201, response.text
    return response.json()


def upload(client: TestClient, project_id: str, data: bytes, route: str = "uploads", name: str = "a.png"):
    return client.post(f"/api/projects/{project_id}/{route}", files={"file": (name, data, "image/png")})


def blob_count(client: TestClient) -> int:
    root: Path = client.app.state.opendream.workspace.data.blobs.root  # type: ignore[attr-defined]
    return sum(1 for p in root.rglob("*.png"))


def bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height``."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
