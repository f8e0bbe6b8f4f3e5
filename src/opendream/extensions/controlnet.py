"""ControlNet (Canny): ``canny_edges`` makes the edge map its own layer, ``controlnet_canny``
draws a prompt that follows the edges of an image (or of an edge-map layer given directly).

A bundled extension: it uses only the public op API, like a third-party one. torch, diffusers
and OpenCV are imported inside the functions that need them. ``generate_with_control`` is
public so other ControlNet extensions (``openpose``) run the same pipeline code."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from PIL import Image

import opendream
from opendream import Context, Field, ImageLayer
from opendream.core.errors import InvalidParams, OpFailed
from opendream.core.images import pipeline_images

Scheduler = Literal["unipc", "euler_a", "euler"]
_SCHEDULERS = {
    "unipc": "UniPCMultistepScheduler",
    "euler_a": "EulerAncestralDiscreteScheduler",
    "euler": "EulerDiscreteScheduler",
}
MAX_SIDE = 2048
MAX_SEED = 2**32 - 1

Prompt = Annotated[
    str, Field(description="What to draw", max_length=4000, json_schema_extra={"widget": "textarea"})
]
NegativePrompt = Annotated[
    str, Field(description="What to avoid", max_length=4000, json_schema_extra={"widget": "textarea"})
]
Threshold = Annotated[int, Field(ge=0, le=255, description="Canny hysteresis threshold (0-255)")]
ConditioningScale = Annotated[
    float, Field(ge=0, le=2, description="How strongly the control image steers the result")
]
Steps = Annotated[int, Field(ge=1, le=150, description="Denoising steps")]
Guidance = Annotated[float, Field(ge=0, le=30, description="How closely to follow the prompt")]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED, json_schema_extra={"x-opendream-widget": "seed"})]
Model = Annotated[str, Field(description="Base model: repo id, folder or .safetensors; empty = default")]
ControlModel = Annotated[
    str, Field(description="ControlNet: repo id, folder or .safetensors; empty = default")
]


def check(op: str, **checks: tuple[bool, str]) -> None:
    """Raise ``InvalidParams`` naming every argument whose ``(ok, message)`` check failed."""
    errors = [{"param": name, "message": message} for name, (ok, message) in checks.items() if not ok]
    if errors:
        raise InvalidParams(op, errors)


def check_side(image: Image.Image) -> tuple[bool, str]:
    width, height = image.size
    return max(width, height) <= MAX_SIDE, f"has to be at most {MAX_SIDE} px per side but is {width}x{height}"


def models_of(ctx: Context | None, op: str) -> Any:
    """The engine's model manager (``ctx.models``); ops on diffusion models cannot run without it."""
    if ctx is None or ctx.models is None:
        raise OpFailed(
            f"{op} needs the diffusion extra (torch, diffusers) and a model manager in its context"
        )
    return ctx.models


def canny(image: Image.Image, low_threshold: int, high_threshold: int) -> Image.Image:
    """White edges on black, RGB (the form ControlNet-Canny models were trained on)."""
    import cv2

    edges = cv2.Canny(np.asarray(image.convert("RGB")), low_threshold, high_threshold)
    return Image.fromarray(edges, "L").convert("RGB")


def _pad(image: Image.Image) -> Image.Image:
    """Pad right/bottom with black (no control signal) to multiples of 8; crop back afterwards."""
    width, height = image.size
    padded = Image.new("RGB", (width + (-width) % 8, height + (-height) % 8))
    padded.paste(image, (0, 0))
    return padded


def generate_with_control(
    ctx: Context | None,
    op: str,
    control: Image.Image,
    *,
    role: str,
    prompt: str,
    negative_prompt: str,
    conditioning_scale: float,
    steps: int,
    guidance_scale: float,
    seed: int,
    scheduler: str,
    model: str,
    controlnet_model: str,
) -> Image.Image:
    """Run a ControlNet txt2img pipeline on ``control`` (RGB); the result has ``control``'s size.

    ``role`` names the settings default for an empty ``controlnet_model`` (e.g.
    ``controlnet_canny``). Progress is reported every step; a cancel stops at the next step."""
    import diffusers
    import torch

    manager = models_of(ctx, op)
    cached = manager.get(
        "controlnet",
        model,
        role="dream",
        controlnet=manager.model_for(controlnet_model, role),
        controlnet_role=role,
        progress=ctx.download_progress,
        status=ctx.status,
    )
    # Pipelines keep per-call state; each run gets its own instance (shared weights, own scheduler).
    sampler = getattr(diffusers, _SCHEDULERS[scheduler]).from_config(cached.scheduler.config)
    pipe = type(cached)(**{**cached.components, "scheduler": sampler}, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)

    def on_step_end(p: Any, i: int, t: Any, kwargs: dict) -> dict:
        ctx.check_cancelled()
        ctx.progress(i + 1, int(p.num_timesteps))
        return {}

    width, height = control.size
    padded = _pad(control)
    ctx.check_cancelled()
    with torch.inference_mode():
        result = pipe(
            prompt=prompt,
            negative_prompt=negative_prompt or None,
            image=padded,
            width=padded.width,
            height=padded.height,
            num_inference_steps=steps,
            guidance_scale=guidance_scale,
            controlnet_conditioning_scale=conditioning_scale,
            generator=ctx.generator(seed),
            output_type="np",
            callback_on_step_end=on_step_end,
        )
    (image,) = pipeline_images(result.images, op)
    return image.crop((0, 0, width, height))


def control_identity(role: str) -> Any:
    """``identity=`` hook: the resolved base model and ControlNet weights join the cache key."""

    def hook(params: dict, ctx: Any) -> dict:
        if ctx is None or ctx.models is None:
            return {}
        return {
            "model": ctx.models.identity(str(params.get("model") or ""), "dream"),
            "controlnet": ctx.models.identity(str(params.get("controlnet_model") or ""), role),
        }

    return hook


@opendream.op(version="1", title="Canny edges", category="control")
def canny_edges(
    image: ImageLayer,
    low_threshold: Threshold = 100,
    high_threshold: Threshold = 200,
) -> ImageLayer:
    """The Canny edge map of ``image`` as its own layer (white edges on black).

    Use it as the control image of ``controlnet_canny`` (tick "image is edge map"); you can
    paint on it first to add or remove edges.

    Args:
        image (`ImageLayer`): the picture to trace.
        low_threshold, high_threshold (`int`, defaults to 100 and 200): gradients above
            ``high_threshold`` start an edge, ones above ``low_threshold`` continue it.
    """
    check(
        "canny_edges",
        low_threshold=(
            0 <= low_threshold <= high_threshold <= 255,
            f"has to be between 0 and `high_threshold` ({high_threshold}) but is {low_threshold}",
        ),
        image=check_side(image.get_image()),
    )
    return ImageLayer(image=canny(image.get_image(), low_threshold, high_threshold))


@opendream.op(
    version="1", title="ControlNet (Canny)", category="control", identity=control_identity("controlnet_canny")
)
def controlnet_canny(
    image: ImageLayer,
    prompt: Prompt,
    negative_prompt: NegativePrompt = "",
    image_is_edge_map: Annotated[
        bool,
        Field(
            description="The layer already is an edge map (e.g. from Canny edges): skip Canny",
            # The form ticks it when the picked image is a Canny edges layer.
            json_schema_extra={"x-opendream-made-by": {"input": "image", "op": "canny_edges"}},
        ),
    ] = False,
    low_threshold: Threshold = 100,
    high_threshold: Threshold = 200,
    conditioning_scale: ConditioningScale = 1.0,
    steps: Steps = 20,
    guidance_scale: Guidance = 7.5,
    scheduler: Scheduler = "unipc",
    seed: Seed = 42,
    model: Model = "",
    controlnet_model: ControlModel = "",
    ctx: Context = None,
) -> ImageLayer:
    """Draw ``prompt`` following the edges of ``image``.

    The output has ``image``'s size (padded to multiples of 8 for the model, cropped back).

    Args:
        image (`ImageLayer`): the picture whose edges to follow, or an edge map when
            ``image_is_edge_map`` is set (white edges on black, any size).
        prompt, negative_prompt (`str`): what to draw and what to avoid.
        low_threshold, high_threshold (`int`): Canny thresholds (ignored for an edge map).
        conditioning_scale (`float`, defaults to 1.0): 0 ignores the edges.
        steps, guidance_scale, scheduler, seed: the sampler settings.
        model (`str`): the base Stable Diffusion model; empty = the ``dream_model`` setting.
        controlnet_model (`str`): empty = the ``controlnet_canny_model`` setting.
    """
    source = image.get_image()
    check(
        "controlnet_canny",
        image=check_side(source),
        low_threshold=(
            0 <= low_threshold <= high_threshold <= 255,
            f"has to be between 0 and `high_threshold` ({high_threshold}) but is {low_threshold}",
        ),
    )
    control = source.convert("RGB") if image_is_edge_map else canny(source, low_threshold, high_threshold)
    result = generate_with_control(
        ctx,
        "controlnet_canny",
        control,
        role="controlnet_canny",
        prompt=prompt,
        negative_prompt=negative_prompt,
        conditioning_scale=conditioning_scale,
        steps=steps,
        guidance_scale=guidance_scale,
        seed=seed,
        scheduler=scheduler,
        model=model,
        controlnet_model=controlnet_model,
    )
    return ImageLayer(image=result)
