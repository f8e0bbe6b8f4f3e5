"""LoRA files told from their safetensors header alone: whether a file is a LoRA, the model
family it was trained for (by the width of the text it attends to, or the blocks it names) and
its trigger words (Kohya's training metadata). Nothing is loaded."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opendream.diffusion.families import FAMILY_NAMES, read_header

#: What LoRA tensors are called in diffusers', peft's and Kohya's formats.
_LORA_KEY = re.compile(r"\.lora_(A|B|down|up)\.|^lora_(unet|te\d?)_")
#: A cross-attention key projection's down weight: its input width is the text's.
_CROSS_ATTENTION = re.compile(r"attn2[._]to_k\.lora_(A|down)\.weight$")
_TEXT_WIDTHS = {768: "sd1", 1024: "sd2", 2048: "sdxl"}
_FLUX_BLOCKS = ("double_blocks", "single_blocks", "single_transformer_blocks")
MAX_TRIGGERS = 8


@dataclass(frozen=True)
class LoraFile:
    """A LoRA file: ``family`` is ``None`` when its names do not say."""

    model: str
    family: str | None
    bytes: int
    triggers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "family": self.family,
            "title": FAMILY_NAMES.get(self.family, "unknown family") if self.family else "unknown family",
            "bytes": self.bytes,
            "triggers": list(self.triggers),
        }


def lora_file(path: Path) -> LoraFile | None:
    """``path`` as a LoRA, or ``None`` when it is none (or not a readable safetensors file)."""
    try:
        header = read_header(path)
    except (OSError, ValueError):
        return None
    names = [name for name in header if name != "__metadata__"]
    if not any(_LORA_KEY.search(name) for name in names):
        return None
    metadata = header.get("__metadata__") or {}
    return LoraFile(str(path), _family(header, names), path.stat().st_size, _triggers(metadata))


def _family(header: dict[str, Any], names: list[str]) -> str | None:
    if any(block in name for name in names for block in _FLUX_BLOCKS):
        return "flux1"
    for name in names:
        if _CROSS_ATTENTION.search(name):
            shape = header[name].get("shape") or []
            return _TEXT_WIDTHS.get(shape[1]) if len(shape) == 2 else None
    return None


def _triggers(metadata: dict[str, Any]) -> tuple[str, ...]:
    """The most frequent training tags (Kohya's ``ss_tag_frequency``), most frequent first."""
    try:
        frequency = json.loads(metadata.get("ss_tag_frequency") or "{}")
    except ValueError:
        return ()
    counts: Counter[str] = Counter()
    for tags in frequency.values() if isinstance(frequency, dict) else ():
        if isinstance(tags, dict):
            counts.update({str(tag).strip(): int(n) for tag, n in tags.items() if isinstance(n, int)})
    return tuple(tag for tag, _ in counts.most_common(MAX_TRIGGERS) if tag)
