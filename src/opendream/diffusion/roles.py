"""The model roles of the built-in diffusion ops and the bundled ControlNet and InstructPix2Pix
extensions: their default is the matching setting's default, their stand-in a tiny model (the
``edit`` role's: a tiny Flux.1 Kontext, an instruction-editing family)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from opendream.models import ModelRole, declare_role
from opendream.settings import Settings

# role -> the tiny model (opendream.diffusion.tiny) that stands in for it
_TINY_KINDS = {
    "dream": "txt2img",
    "inpaint": "inpaint",
    "pix2pix": "pix2pix",
    "controlnet_canny": "controlnet",
    "controlnet_openpose": "controlnet",
}


def _tiny(kind: str) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        from opendream.diffusion.tiny import ensure_tiny_model

        return ensure_tiny_model(kind, folder)  # type: ignore[arg-type]

    return build


def _tiny_editor(folder: Path) -> Path:
    from opendream.diffusion.tiny_families import ensure_tiny_family

    return ensure_tiny_family("flux1-kontext", folder)


ROLES = {
    name: declare_role(
        ModelRole(name, default=Settings.model_fields[f"{name}_model"].default, tiny=_tiny(kind))
    )
    for name, kind in _TINY_KINDS.items()
}
ROLES["lora"] = declare_role(
    ModelRole(
        "lora",
        default="",
        form="a .safetensors LoRA file (A1111/Kohya, ComfyUI or diffusers format) or a hub repo id",
    )
)
ROLES["edit"] = declare_role(
    ModelRole("edit", default=Settings.model_fields["edit_model"].default, tiny=_tiny_editor)
)
