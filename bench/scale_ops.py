"""The synthetic ops of ``bench.scale``, copied into an extension folder that the server and
every Ray worker load (not imported by the benchmark itself)."""

import os
import time
from pathlib import Path
from typing import Annotated

from PIL import Image

import opendream
from opendream import Field, ImageLayer

#: The one "model" this worker holds, as a GPU whose memory fits one model at a time.
_HELD: dict[str, str] = {}


@opendream.op(title="No-op (bench)", category="bench")
def scale_noop(seed: int = 0) -> ImageLayer:
    """An 8x8 picture: what running anything costs beyond the op."""
    return ImageLayer(image=Image.new("RGB", (8, 8), (seed % 256, 0, 0)))


@opendream.op(title="Sleep (bench)", category="bench")
def scale_sleep(seconds: Annotated[float, Field(ge=0, le=60)] = 0.5, seed: int = 0) -> ImageLayer:
    """A job of fixed duration that takes no CPU (a GPU's work, simulated)."""
    time.sleep(seconds)
    return ImageLayer(image=Image.new("RGB", (8, 8), (seed % 256, 0, 0)))


@opendream.op(
    title="Model (bench)", category="bench", identity=lambda params, ctx: {"model": params["model"]}
)
def scale_model(log_dir: str, model: str = "a", seed: int = 0) -> ImageLayer:
    """Loads ``model`` unless it is the one this worker holds (a line in ``log_dir/loads``)."""
    if _HELD.get("model") != model:
        _HELD["model"] = model
        with (Path(log_dir) / "loads").open("a") as file:
            file.write(f"{os.getpid()} {model}\n")
        time.sleep(0.05)
    return ImageLayer(image=Image.new("RGB", (8, 8), (seed % 256, len(model), 0)))
