"""Where a pipeline's weights live: on the device, or offloaded to the computer's memory and
moved to the GPU a model (``model``) or a layer (``sequential``) at a time, as diffusers'
``enable_model_cpu_offload`` / ``enable_sequential_cpu_offload`` do. ``OPENDREAM_OFFLOAD``
chooses: ``auto`` (the default) offloads only what does not fit the device's memory budget.
A model too big even for the computer's memory is refused with the memory it needs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from opendream.core.errors import ModelUnavailable

OffloadSetting = Literal["auto", "none", "model", "sequential"]
GB = 1024**3


@dataclass(frozen=True)
class Placement:
    """``device``: all weights on the device; ``model``/``sequential``: offloaded. ``why`` says
    so on the status line (empty when on the device)."""

    mode: Literal["device", "model", "sequential"]
    why: str = ""


def _gb(size: int) -> str:
    return f"{size / GB:.1f} GB"


def placement(
    setting: str, device: str, needed: int, largest: int, budget: int, host: int, name: str
) -> Placement:
    """Where a model of ``needed`` bytes (its largest component ``largest``) goes on ``device``
    with ``budget`` bytes for weights there and ``host`` bytes of the computer's memory.
    ``needed`` 0 means unknown (a hub model not downloaded yet): it goes on the device."""
    if needed > host:
        raise ModelUnavailable(
            f"model {name!r} needs about {_gb(needed)} of memory, more than this computer has ({_gb(host)}), "
            "even offloaded: pick a smaller or quantized variant of it, or run it on a machine with more memory"
        )
    if device == "cpu" or setting == "none":
        return Placement("device")  # on the CPU the weights already are in the computer's memory
    if setting in ("model", "sequential"):
        return Placement(setting, f"offloaded to the computer's memory ({setting}, OPENDREAM_OFFLOAD)")  # type: ignore[arg-type]
    if not needed or needed <= budget:
        return Placement("device")
    mode: Literal["model", "sequential"] = "model" if largest <= budget else "sequential"
    return Placement(
        mode,
        f"offloaded to the computer's memory ({mode}): it needs about {_gb(needed)}, the {device} budget is "
        f"{_gb(budget)}; set OPENDREAM_MODEL_MEMORY_BUDGET_MB or OPENDREAM_OFFLOAD to choose",
    )


def largest_share(folder: Path) -> float:
    """The share of a pipeline's weights on disk its biggest component (``transformer``,
    ``text_encoder`` …) holds: model offloading needs room for that one at a time."""
    sizes = [
        sum(f.stat().st_size for f in part.rglob("*") if f.suffix in (".safetensors", ".bin"))
        for part in folder.iterdir()
        if part.is_dir()
    ]
    return max(sizes, default=0) / sum(sizes) if sum(sizes) else 1.0


def host_memory() -> int:
    """The computer's memory in bytes."""
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except ImportError:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def place(pipe: Any, where: Placement, device: str) -> Any:
    """Put ``pipe``'s weights where ``where`` says."""
    if where.mode == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif where.mode == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe = pipe.to(device)
    return pipe
