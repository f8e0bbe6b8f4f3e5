"""Which model family a source is (SD 1.x, SDXL, Flux.1 …) and its variant, found without
loading any weights: a pipeline folder by its ``model_index.json``, a single-file checkpoint by
the names and shapes in its safetensors header, probed with diffusers' own
``infer_diffusers_model_type`` (the maintained table of which keys mark which model).

Each family's traits say what its pipelines take and what suits them (size, steps, guidance,
whether a negative prompt or the SD samplers apply), and which tasks it has comes from
diffusers' AutoPipeline tables: a task a family lacks is refused by name before anything
loads, instead of failing inside the model."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from opendream.core.errors import ModelUnavailable
from opendream.diffusion.model_sources import Source

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
    # The ControlNet pipelines of each family (for the family of a derived pipeline).
    "StableDiffusionControlNetPipeline": ("sd1", "normal"),
    "StableDiffusionXLControlNetPipeline": ("sdxl", "normal"),
    "StableDiffusion3ControlNetPipeline": ("sd3", "normal"),
    "FluxControlNetPipeline": ("flux1", "normal"),
    "QwenImageControlNetPipeline": ("qwen-image", "normal"),
    "ZImageControlNetPipeline": ("z-image", "normal"),
    "StableDiffusion3Pipeline": ("sd3", "normal"),
    "StableDiffusion3Img2ImgPipeline": ("sd3", "normal"),
    "StableDiffusion3InpaintPipeline": ("sd3", "normal"),
    "FluxPipeline": ("flux1", "normal"),
    "FluxImg2ImgPipeline": ("flux1", "normal"),
    "FluxInpaintPipeline": ("flux1", "normal"),
    "FluxFillPipeline": ("flux1", "inpaint"),
    "FluxKontextPipeline": ("flux1", "kontext"),
    "Flux2Pipeline": ("flux2", "normal"),
    "Flux2KleinPipeline": ("flux2", "klein"),
    "ChromaPipeline": ("chroma", "normal"),
    "ChromaImg2ImgPipeline": ("chroma", "normal"),
    "QwenImagePipeline": ("qwen-image", "normal"),
    "QwenImageImg2ImgPipeline": ("qwen-image", "normal"),
    "QwenImageInpaintPipeline": ("qwen-image", "normal"),
    "QwenImageEditPipeline": ("qwen-image", "edit"),
    "QwenImageEditPlusPipeline": ("qwen-image", "edit"),
    "QwenImageEditInpaintPipeline": ("qwen-image", "edit"),
    "ZImagePipeline": ("z-image", "normal"),
    "ZImageImg2ImgPipeline": ("z-image", "normal"),
    "ZImageInpaintPipeline": ("z-image", "normal"),
    "Lumina2Pipeline": ("lumina2", "normal"),
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
#: The text-input widths of FLUX.2 klein (three Qwen3 hidden layers: 4B 3x2560, 9B 3x4096);
#: FLUX.2 dev's Mistral text is 3x5120 wide.
KLEIN_TEXT_WIDTHS = frozenset({7680, 12288})
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


#: The variant of a model trained to predict velocity, not noise (its scheduler must know).
V_PREDICTION = "v-prediction"
_PIPELINES_FAMILY = {name: Family(*found) for name, found in _PIPELINES.items()}


class _Shape:
    """A tensor as a safetensors header describes it: only its shape (nothing is read)."""

    def __init__(self, shape: list[int]) -> None:
        self.shape = tuple(shape)


def read_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file (its tensors' entries and ``__metadata__``)."""
    with path.open("rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise ValueError("shorter than a safetensors header")
        (length,) = struct.unpack("<Q", raw)
        if not 2 <= length <= MAX_HEADER_BYTES:
            raise ValueError(f"a safetensors header of {length} bytes")
        header = json.loads(f.read(length))
    if not isinstance(header, dict):
        raise ValueError("not a safetensors header")
    return header


def header_shapes(path: Path) -> dict[str, _Shape]:
    """The tensor names and shapes of a safetensors file, from its header alone."""
    return {
        name: _Shape(entry["shape"]) for name, entry in read_header(path).items() if name != "__metadata__"
    }


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


def model_family(model: str, role: str) -> Family | None:
    """The family of the model ``model`` names (an empty one: ``role``'s configured model, unless
    tiny models stand in), ``None`` when it cannot be told without a download."""
    from opendream.diffusion.model_sources import resolve_source
    from opendream.models import configured_model
    from opendream.settings import Settings

    name = model.strip()
    if not name:
        settings = Settings()
        if settings.tiny_models:
            return None
        name = configured_model(settings, role)
    try:
        return detect_family(resolve_source(name, role=role))
    except (ModelUnavailable, OSError, ValueError):
        return None


def folder_family(folder: Path) -> Family | None:
    """The family of a diffusers pipeline folder, by its ``model_index.json``."""
    return _from_index(folder / "model_index.json")


def _from_index(path: Path) -> Family | None:
    try:
        index = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    found = _PIPELINES.get(str(index.get("_class_name", "")))
    if found is None:
        return None
    name, variant = found
    if name == "sd1" and _config_value(path.parent / "unet", "cross_attention_dim") == 1024:
        name = "sd2"
    if variant == "normal" and _config_value(path.parent / "scheduler", "prediction_type") == "v_prediction":
        variant = V_PREDICTION
    return Family(name, variant)


def _config_value(folder: Path, key: str) -> Any:
    """``key`` of a component's config (``config.json``, or a scheduler's own file)."""
    for name in ("config.json", "scheduler_config.json"):
        try:
            return json.loads((folder / name).read_text("utf-8"))[key]
        except (OSError, ValueError, KeyError, TypeError):
            continue
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
    name, variant = _CHECKPOINTS.get(kind, (kind, "normal"))
    if name == "flux2" and _text_input_width(shapes) in KLEIN_TEXT_WIDTHS:
        variant = "klein"
    # v-prediction checkpoints (SDXL's NoobAI/v-pred merges) carry an empty ``v_pred`` marker.
    if variant == "normal" and "v_pred" in shapes:
        variant = V_PREDICTION
    return Family(name, variant)


Task = Literal["txt2img", "img2img", "inpaint", "edit"]
TASK_NAMES: dict[str, str] = {
    "txt2img": "text to image",
    "img2img": "image to image",
    "inpaint": "inpainting",
    "edit": "instruction editing",
}
#: The families diffusers' image-to-image table maps to an instruction-editing pipeline (the
#: picture is a reference to follow, not a start to denoise from): ``edit``, not ``img2img``.
EDIT_KEYS = frozenset({"flux-kontext", "flux2", "flux2-klein", "qwenimage-edit", "qwenimage-edit-plus"})


@dataclass(frozen=True)
class Traits:
    """What a family's pipelines take and what suits them.

    Args:
        key: the family's key in diffusers' AutoPipeline tables.
        size: the side it was trained at.
        steps, guidance: good defaults for ``steps`` and ``guidance_scale``.
        guidance_param: the pipeline argument an op's ``guidance_scale`` goes to (Qwen-Image
            takes true classifier-free guidance as ``true_cfg_scale``).
        negative_prompt: whether a negative prompt steers it (distilled guidance ignores one).
        flow: a flow-matching model: it denoises with its own scheduler, not SD's samplers.
        multiple: the pixel sides it takes are multiples of this (a transformer's latent
            patches span 2x2 latent pixels: 16 image pixels).
    """

    key: str
    size: int
    steps: int
    guidance: float
    guidance_param: str = "guidance_scale"
    negative_prompt: bool = True
    flow: bool = False
    multiple: int = 8


TRAITS: dict[str, Traits] = {
    "sd1": Traits("stable-diffusion", 512, 20, 7.5),
    "sd2": Traits("stable-diffusion", 768, 20, 7.5),
    "sdxl": Traits("stable-diffusion-xl", 1024, 30, 5.0),
    "sd3": Traits("stable-diffusion-3", 1024, 28, 7.0, flow=True, multiple=16),
    "flux1": Traits("flux", 1024, 28, 3.5, negative_prompt=False, flow=True, multiple=16),
    "flux2": Traits("flux2", 1024, 28, 4.0, negative_prompt=False, flow=True, multiple=16),
    "chroma": Traits("chroma", 1024, 26, 4.0, flow=True, multiple=16),
    "qwen-image": Traits("qwenimage", 1024, 30, 4.0, guidance_param="true_cfg_scale", flow=True, multiple=16),
    "z-image": Traits("z-image", 1024, 28, 4.0, flow=True, multiple=16),
    "lumina2": Traits("lumina2", 1024, 30, 4.0, flow=True, multiple=16),
}
#: Variants with traits of their own (few-step distillations; edit models' table entries).
_VARIANT_TRAITS: dict[tuple[str, str], dict[str, Any]] = {
    ("flux1", "schnell"): {"steps": 4, "guidance": 0.0},
    ("flux1", "kontext"): {"key": "flux-kontext", "guidance": 2.5},
    ("flux2", "klein"): {"key": "flux2-klein", "steps": 4, "guidance": 1.0},
    ("qwen-image", "edit"): {"key": "qwenimage-edit"},
    ("z-image", "turbo"): {"steps": 8, "guidance": 0.0},
}


def traits(family: Family) -> Traits:
    """The traits of ``family``'s variant (those of its family, unless the variant has its own)."""
    import dataclasses

    base = TRAITS.get(family.name) or Traits(family.name, 1024, 28, 4.0, flow=True, multiple=16)
    return dataclasses.replace(base, **_VARIANT_TRAITS.get((family.name, family.variant), {}))


def family_params(family: Family) -> dict[str, Any]:
    """The op parameters that suit ``family``: its size, steps and guidance, and its own
    scheduler for a flow-matching family (SD's families keep each op's sampler)."""
    fits = traits(family)
    suited: dict[str, Any] = {
        "width": fits.size,
        "height": fits.size,
        "steps": fits.steps,
        "guidance_scale": fits.guidance,
    }
    if fits.flow:
        suited["scheduler"] = "default"
    return suited


def task_pipelines(task: Task) -> dict[str, Any]:
    """diffusers' AutoPipeline table of ``task``: family key -> pipeline class (``edit``: the
    image-to-image table's editing pipelines, which ``img2img`` leaves out)."""
    from diffusers.pipelines import auto_pipeline

    if task == "inpaint":
        return dict(auto_pipeline.AUTO_INPAINT_PIPELINES_MAPPING)
    if task == "txt2img":
        return dict(auto_pipeline.AUTO_TEXT2IMAGE_PIPELINES_MAPPING)
    image_to_image = auto_pipeline.AUTO_IMAGE2IMAGE_PIPELINES_MAPPING
    return {key: cls for key, cls in image_to_image.items() if (key in EDIT_KEYS) == (task == "edit")}


def families_with(task: Task) -> list[str]:
    """The families (and variants with a pipeline of their own) that have ``task``, by title."""
    keys = task_pipelines(task)
    found = [Family(name, "normal") for name in TRAITS if name != "sd2"]
    found += [Family(*pair) for pair, own in _VARIANT_TRAITS.items() if "key" in own]
    return list(dict.fromkeys(f.title for f in found if traits(f).key in keys))


def _text_input_width(shapes: dict[str, _Shape]) -> int | None:
    for key in ("txt_in.weight", "model.diffusion_model.txt_in.weight"):
        if key in shapes and len(shapes[key].shape) == 2:
            return shapes[key].shape[1]
    return None


#: Where a checkpoint's denoiser lives in the layouts single files come in (LDM's prefix, or
#: the bare transformer names Flux, SD 3 and the newer families are saved with).
_DENOISER_MARKS = ("model.diffusion_model.", "double_blocks.", "single_blocks.", "joint_blocks.", "layers.0.")


def check_checkpoint(source: Source, family: Family | None, model: str) -> None:
    """Refuse a single file that holds no denoiser of any known layout, saying what was probed
    (an unknown family that has a UNet is left to the loader: small SD models lack the key
    that marks SD 1.x)."""
    if source.kind != "safetensors" or family is not None:
        return
    try:
        names = list(header_shapes(Path(source.location)))
    except (OSError, ValueError):
        return  # the loader says what it could not read
    if any(name.startswith(_DENOISER_MARKS) for name in names):
        return
    probed = ", ".join(FAMILY_NAMES.values())
    raise ModelUnavailable(
        f"checkpoint {model!r} holds no model of a family known here: its {len(names)} tensor names match none "
        f"of the layouts probed ({probed}; diffusers' table of checkpoint keys). Is it a LoRA, an embedding or "
        "a VAE? A LoRA goes in `loras`."
    )


def check_task(family: Family | None, model: str, task: str) -> None:
    """Refuse ``task`` on a model whose family has no pipeline for it, naming the families that
    have one (``None``: unknown until loaded; the loader says what it could not load)."""
    if family is None or task not in TASK_NAMES:
        return
    key = traits(family).key
    if key not in task_pipelines(task):  # type: ignore[arg-type]
        hint = "; it edits by instruction: use the edit op" if key in EDIT_KEYS else ""
        raise ModelUnavailable(
            f"model {model!r} is {family.title}, which has no {TASK_NAMES[task]} pipeline{hint}; "
            f"{TASK_NAMES[task]} runs on {', '.join(families_with(task))} models"  # type: ignore[arg-type]
        )


def family_of_pipeline(pipe: Any) -> Family | None:
    """The family of a loaded pipeline, by its class."""
    return _PIPELINES_FAMILY.get(type(pipe).__name__)


def task_class(pipe: Any, task: Task) -> Any:
    """The pipeline class of ``task`` in the family of ``pipe`` (diffusers' AutoPipeline tables;
    a class of the inpainting table serves that family's other tasks too), ``None`` when the
    family has no such task."""
    from diffusers.pipelines import auto_pipeline

    name = type(pipe).__name__
    for table in (
        auto_pipeline.AUTO_TEXT2IMAGE_PIPELINES_MAPPING,
        auto_pipeline.AUTO_IMAGE2IMAGE_PIPELINES_MAPPING,
        auto_pipeline.AUTO_INPAINT_PIPELINES_MAPPING,
    ):
        for key, cls in table.items():
            if cls.__name__ == name:
                return task_pipelines(task).get(key)
    return None
