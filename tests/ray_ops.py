"""Test ops for the Ray executor. Not imported by the tests: copied into an extension folder
that the server and every Ray worker load, as a user's extension would be.

Each op appends to files under ``log_dir`` what happened in which process, so that a test can
count runs and model loads across the workers."""

import os
import signal
import time
from pathlib import Path
from typing import Annotated

from PIL import Image

import opendream
from opendream import Context, Field, ImageLayer

#: The "models" this process has loaded (a real worker's model manager keeps its pipelines).
_LOADED: set[str] = set()


def _log(log_dir: str, name: str, line: str) -> None:
    with (Path(log_dir) / name).open("a") as file:
        file.write(line + "\n")


@opendream.op(
    title="Model (Ray test)", category="test", identity=lambda params, ctx: {"model": params["model"]}
)
def ray_test_model(
    log_dir: str,
    model: str = "a",
    seed: int = 0,
    steps: Annotated[int, Field(ge=1, le=1000)] = 3,
    delay: Annotated[float, Field(ge=0, le=1)] = 0.0,
    ctx: Context = None,
) -> ImageLayer:
    """Loads ``model`` once per process, then counts ``steps`` of ``delay`` seconds each with
    progress (a preview at the first), checking for cancellation."""
    pid = os.getpid()
    _log(log_dir, "starts", f"{pid} {model} {seed}")
    if model not in _LOADED:
        ctx.status(f"loading {model}")
        _LOADED.add(model)
        _log(log_dir, "loads", f"{pid} {model}")
    for step in range(steps):
        ctx.check_cancelled()
        time.sleep(delay)
        ctx.progress(step + 1, steps, Image.new("RGB", (32, 32), (seed % 256, 0, 0)) if step == 0 else None)
    _log(log_dir, "runs", f"{pid} {model} {seed}")
    return ImageLayer(image=Image.new("RGB", (8, 8), (seed % 256, len(model), 7)))


@opendream.op(title="Tint (Ray test)", category="test")
def ray_test_tint(image: ImageLayer, amount: Annotated[int, Field(ge=0, le=255)] = 10) -> ImageLayer:
    """Shifts the red channel of its input: its pixels must reach the worker."""
    red, green, blue = image.get_image().convert("RGB").split()
    return ImageLayer(image=Image.merge("RGB", (red.point(lambda v: min(255, v + amount)), green, blue)))


@opendream.op(title="Out of memory (Ray test)", category="test")
def ray_test_oom() -> ImageLayer:
    """Fails as torch's CPU allocator does."""
    raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 TB")


@opendream.op(title="Crash (Ray test)", category="test")
def ray_test_crash(log_dir: str) -> ImageLayer:
    """Ends its own process as an out-of-memory kill would, after saying where."""
    _log(log_dir, "starts", str(os.getpid()))
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable: the process is gone")
