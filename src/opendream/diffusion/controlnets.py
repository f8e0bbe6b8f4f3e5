"""Which ControlNet fits which base: the ControlNet class each family's pipelines take, and
the checks that refuse another family's ControlNet, naming both, before it steers anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opendream.core.errors import ModelUnavailable
from opendream.diffusion.families import FAMILY_NAMES, family_of_pipeline, task_pipelines, traits

#: The families whose ControlNets are ``diffusers.ControlNetModel``s, by the text width they
#: attend to (a ControlNet fits a base of the same width).
CONTROLNET_WIDTHS = {768: "sd1", 1024: "sd2", 2048: "sdxl"}
#: Each ControlNet class and the AutoPipeline keys of the families it steers.
_CONTROLNET_KEYS = {
    "ControlNetModel": ("stable-diffusion", "stable-diffusion-xl"),
    "SD3ControlNetModel": ("stable-diffusion-3",),
    "FluxControlNetModel": ("flux",),
    "QwenImageControlNetModel": ("qwenimage",),
}
#: A ControlNet class -> the families it is made for, for messages.
CONTROLNET_CLASSES = {
    "ControlNetModel": "Stable Diffusion 1.x/2.x or SDXL",
    "SD3ControlNetModel": "Stable Diffusion 3",
    "FluxControlNetModel": "Flux.1",
    "QwenImageControlNetModel": "Qwen-Image",
    "ZImageControlNetModel": "Z-Image",  # not wired: it borrows its transformer's modules
}
CONTROLNET_FAMILIES = (
    "Stable Diffusion 1.x",
    "Stable Diffusion 2.x",
    "SDXL",
    "Stable Diffusion 3",
    "Flux.1",
    "Qwen-Image",
)


def _title(pipe: Any) -> str:
    family = family_of_pipeline(pipe)
    return family.title if family is not None else type(pipe).__name__


def controlnet_pipeline(pipe: Any) -> Any:
    """The ControlNet pipeline class of ``pipe``'s family, ``None`` when none is wired here."""
    family = family_of_pipeline(pipe)
    key = traits(family).key if family is not None else ""
    wired = any(key in keys for keys in _CONTROLNET_KEYS.values())
    return task_pipelines("txt2img").get(f"{key}-controlnet") if wired else None


def controlnet_class(pipe: Any) -> str:
    """The name of the diffusers ControlNet class the family of ``pipe`` takes."""
    family = family_of_pipeline(pipe)
    key = traits(family).key if family is not None else "stable-diffusion"
    return next((cls for cls, keys in _CONTROLNET_KEYS.items() if key in keys), "ControlNetModel")


def refuse(pipe: Any, location: str, name: str, theirs: str) -> None:
    ours = _title(pipe)
    raise ModelUnavailable(
        f"ControlNet {name!r} was made for {theirs} but the base model {location!r} is {ours}; "
        f"pick a ControlNet made for {ours}"
    )


def check_class(pipe: Any, location: str, folder: Path, expected: str, name: str) -> None:
    """Refuse a ControlNet folder of another family's ControlNet class, naming both."""
    try:
        found = str(json.loads((folder / "config.json").read_text("utf-8")).get("_class_name", ""))
    except (OSError, ValueError):
        return  # not a model folder: the loader says so
    if found and found != expected:
        refuse(pipe, location, name, CONTROLNET_CLASSES.get(found, found))


def check_fits(pipe: Any, location: str, controlnet: Any, name: str) -> None:
    """A ``ControlNetModel`` attends to the text as wide as its base's UNet does: refuse one
    made for another of the families sharing the class (SD 1.x, 2.x, SDXL), naming both."""
    width = getattr(controlnet.config, "cross_attention_dim", None)
    base_width = getattr(getattr(getattr(pipe, "unet", None), "config", None), "cross_attention_dim", None)
    if base_width is None or width == base_width:
        return
    refuse(
        pipe,
        location,
        name,
        FAMILY_NAMES.get(CONTROLNET_WIDTHS.get(width or 0, ""), f"a model of text width {width}"),
    )
