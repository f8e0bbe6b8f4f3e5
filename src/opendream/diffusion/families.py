"""Which model family a source is (SD 1.x, SDXL, Flux.1 …) and its variant, found without
loading any weights: a pipeline folder by its ``model_index.json``, a single-file checkpoint by
the names and shapes in its safetensors header, probed with diffusers' own
``infer_diffusers_model_type`` (the maintained table of which keys mark which model).

The generation ops run Stable Diffusion 1.x and 2.x pipelines today; a model of another
family is refused by name before anything loads, instead of failing inside the UNet."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opendream.core.errors import ModelUnavailable
from opendream.diffusion.model_sources import Source

#: What the SD 1.x/2.x pipeline classes the ops use can run.
RUNNABLE = frozenset({"sd1", "sd2"})
MAX_HEADER_BYTES = 100_000_000

#: ``model_index.json``'s ``_class_name`` -> (family, variant).
_PIPELINES: dict[str, tuple[str, str]] = {
    "StableDiffusionPipeline": ("sd1", "normal"),
    "StableDiffusionImg2ImgPipeline": ("sd1", "normal"),
    "StableDiffusionInpaintPipeline": ("sd1", "inpaint"),
    "StableDiffusionInstructPix2PixPipeline": ("sd1", "pix2pix"),
    "StableDiffusionXLPipeline": ("sdxl", "normal"),
    "StableDiffusionXLImg2ImgPipeline": ("sdxl", "normal"),
    "StableDiffusionXLInpaintPipeline": ("sdxl", "inpaint"),
    "StableDiffusionXLInstructPix2PixPipeline": ("sdxl", "pix2pix"),
    "StableDiffusion3Pipeline": ("sd3", "normal"),
    "FluxPipeline": ("flux1", "normal"),
    "FluxFillPipeline": ("flux1", "inpaint"),
    "FluxKontextPipeline": ("flux1", "kontext"),
    "Flux2Pipeline": ("flux2", "normal"),
    "Flux2KleinPipeline": ("flux2", "klein"),
    "ChromaPipeline": ("chroma", "normal"),
    "QwenImagePipeline": ("qwen-image", "normal"),
    "QwenImageEditPipeline": ("qwen-image", "edit"),
    "QwenImageEditPlusPipeline": ("qwen-image", "edit"),
    "ZImagePipeline": ("z-image", "normal"),
}
#: ``infer_diffusers_model_type``'s answer -> (family, variant).
_CHECKPOINTS: dict[str, tuple[str, str]] = {
    "v1": ("sd1", "normal"),
    "inpainting": ("sd1", "inpaint"),
    "instruct-pix2pix": ("sd1", "pix2pix"),
    "v2": ("sd2", "normal"),
    "inpainting_v2": ("sd2", "inpaint"),
    "xl_base": ("sdxl", "normal"),
    "xl_inpaint": ("sdxl", "inpaint"),
    "xl_refiner": ("sdxl", "refiner"),
    "playground-v2-5": ("sdxl", "playground"),
    "sd3": ("sd3", "normal"),
    "sd35_medium": ("sd3", "3.5 medium"),
    "sd35_large": ("sd3", "3.5 large"),
    "flux-dev": ("flux1", "dev"),
    "flux-schnell": ("flux1", "schnell"),
    "flux-fill": ("flux1", "inpaint"),
    "flux-depth": ("flux1", "depth"),
    "flux-2-dev": ("flux2", "dev"),
    "chroma": ("chroma", "normal"),
    "z-image-turbo": ("z-image", "turbo"),
    "lumina2": ("lumina2", "normal"),
}
#: A key every SD 1.x UNet checkpoint has: ``infer_diffusers_model_type`` answers ``v1`` for
#: anything it does not know, so ``v1`` without it is no known family.
_SD1_KEY = "model.diffusion_model.output_blocks.11.0.skip_connection.weight"
FAMILY_NAMES = {
    "sd1": "Stable Diffusion 1.x",
    "sd2": "Stable Diffusion 2.x",
    "sdxl": "SDXL",
    "sd3": "Stable Diffusion 3",
    "flux1": "Flux.1",
    "flux2": "Flux.2",
    "chroma": "Chroma",
    "qwen-image": "Qwen-Image",
    "z-image": "Z-Image",
    "lumina2": "Lumina 2",
}


@dataclass(frozen=True)
class Family:
    """A model's family (``sd1``, ``sdxl``, ``flux1`` …) and variant (``normal``, ``inpaint`` …)."""

    name: str
    variant: str

    @property
    def title(self) -> str:
        family = FAMILY_NAMES.get(self.name, self.name)
        return family if self.variant == "normal" else f"{family} ({self.variant})"


class _Shape:
    """A tensor as a safetensors header describes it: only its shape (nothing is read)."""

    def __init__(self, shape: list[int]) -> None:
        self.shape = tuple(shape)


def header_shapes(path: Path) -> dict[str, _Shape]:
    """The tensor names and shapes of a safetensors file, from its header alone."""
    with path.open("rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise ValueError("shorter than a safetensors header")
        (length,) = struct.unpack("<Q", raw)
        if not 2 <= length <= MAX_HEADER_BYTES:
            raise ValueError(f"a safetensors header of {length} bytes")
        header: dict[str, Any] = json.loads(f.read(length))
    return {name: _Shape(entry["shape"]) for name, entry in header.items() if name != "__metadata__"}


def detect_family(source: Source) -> Family | None:
    """The family of ``source``; ``None`` when it cannot be told without downloading (a hub
    repo that is not cached), reading a pickle, or when a checkpoint marks no known family."""
    if source.kind == "folder":
        return folder_family(Path(source.location))
    if source.kind == "hub":
        from opendream.diffusion.model_sources import cached_snapshot

        folder = cached_snapshot(source.location, source.revision)
        return folder_family(folder) if folder is not None else None
    if source.kind == "safetensors":
        return checkpoint_family(Path(source.location))
    return None


def folder_family(folder: Path) -> Family | None:
    """The family of a diffusers pipeline folder, by its ``model_index.json``."""
    return _from_index(folder / "model_index.json")


def _from_index(path: Path) -> Family | None:
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    found = _PIPELINES.get(str(index.get("_class_name", "")))
    if found is None:
        return None
    name, variant = found
    if name == "sd1" and _cross_attention_width(path.parent) == 1024:
        name = "sd2"
    return Family(name, variant)


def _cross_attention_width(folder: Path) -> int | None:
    try:
        return int(json.loads((folder / "unet" / "config.json").read_text())["cross_attention_dim"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def checkpoint_family(path: Path) -> Family | None:
    """The family a checkpoint's tensor names and shapes mark; ``None`` when they mark none
    that is known (the loader then says what it could not load)."""
    from diffusers.loaders.single_file_utils import infer_diffusers_model_type

    try:
        shapes = header_shapes(path)
    except (OSError, ValueError):
        return None
    try:
        kind = infer_diffusers_model_type(shapes)
    except (KeyError, IndexError, TypeError, AttributeError):  # a probe tripped on a partial file
        return None
    if kind == "v1" and _SD1_KEY not in shapes:
        return None  # its answer for anything it does not know (and for small SD 1.x UNets)
    found = _CHECKPOINTS.get(kind)
    return Family(*found) if found is not None else Family(kind, "normal")


def check_runnable(family: Family | None, model: str, kind: str) -> None:
    """Refuse a model the SD pipeline classes cannot run, naming its family (``None``: unknown
    until loaded, let the loader say)."""
    if family is not None and family.name not in RUNNABLE:
        runnable = " and ".join(FAMILY_NAMES[f] for f in sorted(RUNNABLE))
        raise ModelUnavailable(
            f"model {model!r} is {family.title}; the {kind} pipeline runs {runnable} models: pick one of those"
        )
