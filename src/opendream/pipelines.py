"""Running a diffusers pipeline inside an op: the model manager's cached pipeline as a per-run
instance, seeded generators, input checks, and ``run_pipeline``, which reports progress with
live previews and honours cancel. The built-in diffusion ops and the bundled extensions use
it; ``docs/extensions.md`` shows an extension built on it. torch is imported inside functions
only, so importing this module stays cheap."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from opendream.core import registry
from opendream.core.errors import InvalidParams, OpFailed
from opendream.fields import MAX_GUIDANCE, MAX_SIDE, MAX_STEPS, MIN_SIDE, ControlNetSettings, LoraRef
from opendream.images import pad_to_multiple, pipeline_images

if TYPE_CHECKING:
    from opendream.core.context import Context
    from opendream.diffusion.manager import ModelManager, PipelineKind

MAX_INPUT_SIDE = 4096
PREVIEW_SIDE = 128

# Linear approximation of the SD 1.x/2.x VAE decoder: latent channels -> RGB in [-1, 1].
_LATENT_RGB = np.array(
    [
        [0.298, 0.207, 0.208],
        [0.187, 0.286, 0.173],
        [-0.158, 0.189, 0.264],
        [-0.184, -0.271, -0.473],
    ],
    dtype=np.float32,
)


def manager_for(ctx: Context | None) -> ModelManager:
    """``ctx.models`` when the engine provides one, else the process-wide default manager."""
    if ctx is not None and ctx.models is not None:
        return ctx.models
    from opendream.diffusion.manager import default_manager

    return default_manager(getattr(ctx, "settings", None))


def model_identity(role: str, **more: tuple[str, str]) -> Callable[[dict, Any], dict]:
    """An ``identity=`` hook for ``@opendream.op``: the exact weights the recipe's ``model``
    resolves to (an empty one: the default of ``role``) and of its ``loras``, so new weights
    invalidate cached results. ``more`` names other weights, e.g. ``controlnet=("controlnet_model", role)``:
    the key, the parameter naming them and their role."""
    weights = {"model": ("model", role), **more}

    def hook(params: dict, ctx: Any) -> dict:
        manager = manager_for(ctx)
        found = {key: manager.identity(str(params.get(p) or ""), r) for key, (p, r) in weights.items()}
        loras = lora_pairs(params.get("loras") or [])
        if loras:  # a LoRA's file is part of the result, as the model's is
            found["loras"] = [manager.identity(name, "lora") for name, _ in loras]
        embeddings = manager.used_embeddings(_prompts(params))
        if embeddings:  # and so is an embedding's the prompt names
            found["embeddings"] = [manager.identity(e.model, "lora") for e in embeddings]
        if manager.backend != "torch":  # its results are close to torch's, not the same
            found["backend"] = manager.backend
        return found

    return hook


def family_defaults(role: str) -> Callable[[dict], dict]:
    """A ``defaults=`` hook for ``@opendream.op``: the params a recipe omits take the values that
    suit its model's family (``opendream.diffusion.families.family_params``: size, steps,
    guidance; the model's own scheduler for a flow-matching family), so a recipe naming a Flux
    model records Flux's settings. An empty ``model`` is the ``role``'s configured model. A
    model whose family cannot be told without a download keeps the op's own defaults."""

    def hook(params: dict) -> dict:
        from opendream.diffusion.families import family_params, model_family

        family = model_family(str(params.get("model") or ""), role)
        return family_params(family) if family is not None else {}

    return hook


def cached_pipeline(ctx: Context | None, kind: PipelineKind, model: str, role: str, **options: Any) -> Any:
    """The manager's pipeline of ``kind`` for ``model`` (``options`` go to ``ModelManager.get``);
    a download and a load are reported through ``ctx`` (which stops waiting on cancel), and the
    model's family is recorded in the run's environment (``ctx.environment["models"][role]``)."""
    from opendream.diffusion.families import family_of_pipeline

    manager = manager_for(ctx)
    if ctx is None:
        return manager.get(kind, model, role=role, **options)
    pipe = manager.get(kind, model, role=role, progress=ctx.download_progress, status=ctx.status, **options)
    family = family_of_pipeline(pipe)
    ctx.environment.setdefault("models", {})[role] = {
        "model": manager.model_for(model, role),
        "family": family.name if family is not None else None,
        "variant": family.variant if family is not None else None,
        "pipeline": type(pipe).__name__,
    }
    return pipe


def pipeline(
    ctx: Context | None,
    kind: PipelineKind,
    model: str,
    role: str,
    scheduler: str | None = None,
    loras: Sequence[LoraRef | dict[str, Any]] = (),
    **options: Any,
) -> Any:
    """A per-run instance of the cached pipeline (see ``run_instance``), ready to call, with
    ``loras`` (``opendream.fields.Loras``) loaded into its base and applied by ``run_pipeline``
    for this run only."""
    cached = cached_pipeline(ctx, kind, model, role, **options)
    pairs = lora_pairs(loras)
    manager = manager_for(ctx)
    watch = (
        {"progress": ctx.download_progress, "status": ctx.status, "check": ctx.check_cancelled}
        if ctx is not None
        else {}
    )
    instance = run_instance(cached, scheduler)
    instance._opendream_adapters = manager.adapters(cached, pairs, **watch)

    def embeddings(texts: list[str]) -> dict[str, str]:
        """Load the embeddings ``texts`` name; name -> the token to write in their place."""
        loaded = manager.embeddings(
            cached, texts, status=watch.get("status"), check=watch.get("check", _never)
        )
        if ctx is not None and loaded:
            ctx.environment["embeddings"] = [
                {"name": e.name, "model": e.model, **manager.identity(e.model, "lora")} for e, _ in loaded
            ]
        return {e.name: token for e, token in loaded}

    instance._opendream_embeddings = embeddings
    if ctx is not None and pairs:
        ctx.environment["loras"] = [
            {"model": name, "weight": weight, **manager.identity(name, "lora")} for name, weight in pairs
        ]
    return instance


def lora_pairs(loras: Sequence[LoraRef | dict[str, Any]]) -> list[tuple[str, float]]:
    """``(model, weight)`` of each LoRA (validated ``LoraRef`` s or their dicts); a LoRA listed
    twice is a ``ValueError``."""
    pairs = [(ref.model.strip(), ref.weight) for ref in (LoraRef.model_validate(x) for x in loras)]
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            raise ValueError(f"`loras` lists {name!r} twice; give it once, with the weight wanted")
        seen.add(name)
    return pairs


def check_inputs(op: str, **checks: tuple[bool, str]) -> None:
    """Raise ``InvalidParams`` naming every parameter whose check failed.

    ``checks`` maps a parameter name to ``(ok, message)``."""
    errors = [{"param": name, "message": message} for name, (ok, message) in checks.items() if not ok]
    if errors:
        raise InvalidParams(op, errors)


def side_check(size: tuple[int, int], limit: int = MAX_SIDE) -> tuple[bool, str]:
    """An input image of ``size`` is at most ``limit`` pixels per side."""
    width, height = size
    return max(width, height) <= limit, f"has to be at most {limit} px per side but is {width}x{height}"


def range_check(value: float, low: float, high: float, shown_high: str | None = None) -> tuple[bool, str]:
    """``low <= value <= high``; ``shown_high`` names ``high`` in the message (e.g. ``2**32-1``)."""
    return low <= value <= high, f"has to be between {low} and {shown_high or high} but is {value!r}"


def check_image_to_image(
    op: str,
    size: tuple[int, int],
    strength: float,
    steps: int,
    guidance_scale: float,
    **more: tuple[bool, str],
) -> None:
    """The checks every op that denoises an input image shares (plus ``more`` of its own):
    the input's size, strength, steps, guidance, and that ``strength`` leaves at least one
    step to run (diffusers runs ``int(steps * strength)`` of them)."""
    check_inputs(
        op,
        image_layer=side_check(size, MAX_INPUT_SIDE),
        strength=(0 < strength <= 1, f"has to be in (0, 1] but is {strength!r}"),
        steps=range_check(steps, 1, MAX_STEPS),
        guidance_scale=range_check(guidance_scale, 0, MAX_GUIDANCE),
        **more,
    )
    check_inputs(
        op,
        strength=(
            int(steps * strength) >= 1,
            f"times `steps` has to give at least one step ({steps} x {strength})",
        ),
    )


def size_check(value: int) -> tuple[bool, str]:
    """An output side: a multiple of 8 within ``opendream.fields``' bounds."""
    ok = isinstance(value, int) and MIN_SIDE <= value <= MAX_SIDE and value % 8 == 0
    return ok, f"has to be a multiple of 8 between {MIN_SIDE} and {MAX_SIDE} but is {value!r}"


def make_scheduler(name: str | None, config: Any) -> Any:
    """A fresh scheduler named as ``opendream.fields.SchedulerName`` (``None`` or ``default``:
    the type ``config`` names); schedulers hold per-run state, so every run gets its own.
    A flow-matching model's scheduler is not replaced by one of SD's samplers."""
    import diffusers

    if name is None or name == "default":
        return getattr(diffusers, config["_class_name"]).from_config(config)
    if str(config["_class_name"]).startswith("FlowMatch"):
        raise ValueError(
            f"`scheduler` {name!r} is a Stable Diffusion sampler, but this model denoises with its own "
            "flow-matching scheduler: set `scheduler` to 'default'"
        )
    if name == "euler_a":
        return diffusers.EulerAncestralDiscreteScheduler.from_config(config)
    if name == "euler":
        return diffusers.EulerDiscreteScheduler.from_config(config)
    if name == "dpmpp_2m":
        return diffusers.DPMSolverMultistepScheduler.from_config(
            config, algorithm_type="dpmsolver++", solver_order=2
        )
    if name == "ddim":
        # SD configs set clip_sample False; configs made for other samplers may lack it.
        return diffusers.DDIMScheduler.from_config(config, clip_sample=config.get("clip_sample", False))
    if name == "unipc":
        return diffusers.UniPCMultistepScheduler.from_config(config)
    if name == "lcm":
        return diffusers.LCMScheduler.from_config(config)
    if name == "tcd":
        return diffusers.TCDScheduler.from_config(config)
    if name == "euler_trailing":  # the spacing few-step distillations were trained with
        return diffusers.EulerDiscreteScheduler.from_config(config, timestep_spacing="trailing")
    raise ValueError(
        "`scheduler` has to be one of euler_a, euler, dpmpp_2m, ddim, unipc, lcm, tcd, euler_trailing, default "
        f"but is {name!r}"
    )


def size_multiple(pipe: Any) -> int:
    """The sides ``pipe`` takes are multiples of this many pixels (8 for SD's UNets, 16 for the
    transformer families); pad inputs to it (``opendream.images.pad_to_multiple``)."""
    from opendream.diffusion.families import family_of_pipeline, traits

    family = family_of_pipeline(pipe)
    return traits(family).multiple if family is not None else 8


def run_instance(pipe: Any, scheduler: str | None = None) -> Any:
    """A new pipeline object sharing ``pipe``'s modules, with its own scheduler.

    Pipelines keep per-call state on ``self`` (guidance scale, interrupt flag, step count), so
    concurrent jobs on one cached pipeline each run on their own cheap instance (~1 ms); its
    tokenizers are the shared ones taken one call at a time (``diffusion.tokenizers``)."""
    from opendream.diffusion.tokenizers import serialize_tokenizers

    components = {**pipe.components, "scheduler": make_scheduler(scheduler, pipe.scheduler.config)}
    if "requires_safety_checker" in inspect.signature(type(pipe).__init__).parameters:
        components["requires_safety_checker"] = False
    instance = type(pipe)(**components)
    instance.set_progress_bar_config(disable=True)
    serialize_tokenizers(instance)
    return instance


def latents_preview(latents: Any) -> Image.Image | None:
    """A small RGB preview of the first latent in a batch, without the VAE: SD's four channels
    through a linear approximation, other widths (16 channels of Flux's or SD 3's VAE) as their
    first three channels scaled to the range. ``None`` for latents packed into a sequence."""
    if latents.ndim != 4:
        return None
    array = latents[0].detach().float().cpu().numpy()  # (c, h, w)
    if array.shape[0] == 4:
        rgb = np.einsum("chw,cr->hwr", array, _LATENT_RGB)
    else:
        rgb = array[:3].transpose(1, 2, 0) / max(float(np.abs(array[:3]).max()), 1e-6)
    image = Image.fromarray(((rgb + 1.0) * 127.5).clip(0, 255).astype(np.uint8), "RGB")
    if max(image.size) < PREVIEW_SIDE:
        scale = PREVIEW_SIDE / max(image.size)
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    return image


def run_pipeline(ctx: Context | None, pipe: Any, op: str, **kwargs: Any) -> list[Image.Image]:
    """Call ``pipe`` with progress, cancel and preview wired to ``ctx``; return PIL images.

    Progress is reported after every denoising step as ``(step, total)``; a preview goes with
    it every ~10% of the steps, decoded by the family's tiny autoencoder when there is one
    (``opendream.diffusion.previews``), else by a linear approximation. A cancel is noticed at
    the next step end and raises ``Cancelled`` out of the loop (the VAE decode is skipped). NaN
    output raises ``OpFailed`` with a message saying what to try (the executor does the same
    for running out of memory)."""
    if ctx is not None:
        ctx.check_cancelled()
    arguments = fit_arguments(pipe, op, kwargs)
    preview = _previewer(ctx, pipe, arguments)

    def on_step_end(p: Any, i: int, t: Any, callback_kwargs: dict) -> dict:
        if ctx is None:
            return {}
        ctx.check_cancelled()
        total = int(getattr(p, "num_timesteps", 0) or 0)
        step = i + 1
        every = max(1, total // 10)
        shown = None
        if "latents" in callback_kwargs and (step % every == 0 or step == total):
            shown = preview(callback_kwargs["latents"])
        ctx.progress(step, total, shown)
        ctx.check_cancelled()
        return {}

    import torch

    tile_large_decodes(pipe, arguments, _setting(ctx, "vae_tiling_pixels"))
    arguments = _with_embeddings(pipe, arguments)
    adapters = getattr(pipe, "_opendream_adapters", None)
    # Waiting for another job's LoRA run to let go of the model stays cancellable.
    check = ctx.check_cancelled if ctx is not None else (lambda: None)
    from opendream.diffusion import openvino_backend

    openvino_backend.forget_backend()
    with adapters.applied(pipe, check) if adapters is not None else nullcontext(), torch.inference_mode():
        # Encoded here: a LoRA changes the text encoders too.
        arguments = weighted_arguments(pipe, arguments)
        result = pipe(**arguments, output_type="np", callback_on_step_end=on_step_end)
    if ctx is not None and openvino_backend.backend_used() == "openvino":
        ctx.environment["backend"] = "openvino"
    images = pipeline_images(result.images, op)
    asked = (arguments.get("width"), arguments.get("height"))
    if None not in asked and any(image.size != asked for image in images):
        # A pipeline that rounds a size it does not take would make the op crop past the edge.
        raise OpFailed(
            f"{op}: the pipeline made {images[0].width}x{images[0].height}, not the {asked[0]}x{asked[1]} asked for"
        )
    return images


def _never() -> None:
    """A wait nobody cancels."""


def _prompts(values: dict[str, Any]) -> list[str]:
    return [text for name in ("prompt", "negative_prompt") if isinstance(text := values.get(name), str)]


def _with_embeddings(pipe: Any, arguments: dict[str, Any]) -> dict[str, Any]:
    """``arguments`` with the embeddings its prompts name loaded and written as their tokens."""
    from opendream.diffusion.embedding_files import with_tokens

    load = getattr(pipe, "_opendream_embeddings", None)
    tokens = load(_prompts(arguments)) if load is not None else {}
    if not tokens:
        return arguments
    written = {
        n: with_tokens(arguments[n], tokens)
        for n in ("prompt", "negative_prompt")
        if isinstance(arguments.get(n), str)
    }
    return {**arguments, **written}


def weighted_arguments(pipe: Any, arguments: dict[str, Any]) -> dict[str, Any]:
    """``arguments`` with weighted prompts (``(word:1.2)``, ``[word]``) as embeddings; see
    ``opendream.diffusion.prompt_weights``."""
    from opendream.diffusion import prompt_weights
    from opendream.diffusion.families import family_of_pipeline

    family = family_of_pipeline(pipe)
    return prompt_weights.weighted_arguments(
        pipe, family.name if family else None, family.title if family else type(pipe).__name__, arguments
    )


def _setting(ctx: Context | None, name: str) -> Any:
    """The application setting ``name`` of the run (its default when run without settings)."""
    from opendream.settings import Settings

    settings = getattr(ctx, "settings", None)
    return getattr(settings, name) if settings is not None else Settings.model_fields[name].default


def use_tiny_autoencoder(ctx: Context | None, pipe: Any) -> None:
    """Make the per-run ``pipe`` decode with its family's tiny autoencoder (a draft), waiting
    for it to load; ``ModelUnavailable`` naming the family when it has none here."""
    from opendream.core.errors import ModelUnavailable
    from opendream.diffusion.families import family_of_pipeline
    from opendream.diffusion.previews import tiny_autoencoder

    autoencoder = tiny_autoencoder(manager_for(ctx), pipe, wait=True)
    if autoencoder is None:
        family = family_of_pipeline(pipe)
        raise ModelUnavailable(
            f"no tiny autoencoder for {family.title if family else type(pipe).__name__} models here (taesd, "
            "taesdxl, taesd3 or taef1, downloaded on first use): use decoder 'full'"
        )
    pipe.vae = autoencoder


def _previewer(
    ctx: Context | None, pipe: Any, arguments: dict[str, Any]
) -> Callable[[Any], Image.Image | None]:
    """How a step's latents become a preview in this run: through the family's tiny
    autoencoder (``previews.decode_preview``), else ``latents_preview``."""
    from opendream.diffusion.previews import decode_preview, tiny_autoencoder

    autoencoder = tiny_autoencoder(manager_for(ctx), pipe) if ctx is not None else None
    height, width = arguments.get("height"), arguments.get("width")
    if autoencoder is None or (height is None and "image" not in arguments):
        return latents_preview
    if height is None or width is None:
        width, height = arguments["image"].size

    return lambda latents: decode_preview(autoencoder, latents, pipe, height, width)


def tile_large_decodes(pipe: Any, arguments: dict[str, Any], above: int) -> None:
    """Give the per-run ``pipe`` a tiling view of its VAE when the picture has more than
    ``above`` pixels (0: never): a 2048 px decode needs gigabytes at once, tiles a fraction.
    The view shares the VAE's weights; the cached pipeline's VAE stays untiled, so concurrent
    runs of other sizes are not affected, and the rule depends on the size alone (replays match)."""
    vae = getattr(pipe, "vae", None)
    width, height = arguments.get("width"), arguments.get("height")
    if not above or vae is None or not hasattr(vae, "enable_tiling") or not width or not height:
        return
    if width * height > above:
        tiled = copy.copy(vae)  # a new module object over the same submodules and weights
        tiled.enable_tiling()
        pipe.vae = tiled


def takes(pipe: Any, argument: str) -> bool:
    """Whether calling ``pipe`` takes ``argument`` (a family's own option, such as Kontext's
    ``max_area``)."""
    return argument in inspect.signature(pipe.__call__).parameters


def fit_arguments(pipe: Any, op: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` as ``pipe``'s family takes them: ``guidance_scale`` goes to the argument the
    family guides with, the size asked for is the size made (Kontext's ``max_area``), unset
    arguments (and a size) the pipeline lacks are dropped, a value it cannot
    take (a negative prompt for distilled guidance) is ``InvalidParams`` naming the family."""
    from opendream.diffusion.families import family_of_pipeline, traits

    family = family_of_pipeline(pipe)
    fitted = dict(kwargs)
    if family is not None:
        fits = traits(family)
        if fits.guidance_param != "guidance_scale" and "guidance_scale" in fitted:
            fitted[fits.guidance_param] = fitted.pop("guidance_scale")
            # Qwen-Image guides only against a negative prompt; a blank one is its neutral.
            fitted["negative_prompt"] = fitted.get("negative_prompt") or " "
        if not fits.negative_prompt and fitted.get("negative_prompt"):
            raise InvalidParams(
                op,
                [
                    {
                        "param": "negative_prompt",
                        "message": f"is not used by {family.title} models (their guidance is distilled); "
                        "leave it empty",
                    }
                ],
            )
    accepted = inspect.signature(pipe.__call__).parameters
    if "max_area" in accepted and fitted.get("width") and fitted.get("height"):
        # Kontext rescales the size asked for to its preferred area unless told it is the area.
        fitted.setdefault("max_area", fitted["width"] * fitted["height"])
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
        return fitted
    # SD's image-to-image pipelines read the size from the image; the others have to be told.
    unknown = [
        name
        for name, value in fitted.items()
        if name not in accepted and value is not None and name not in ("width", "height")
    ]
    if unknown:
        title = family.title if family is not None else type(pipe).__name__
        raise InvalidParams(
            op, [{"param": name, "message": f"is not taken by {title} models"} for name in unknown]
        )
    return {name: value for name, value in fitted.items() if name in accepted}


def generators(ctx: Context | None, seed: int, count: int) -> list[Any]:
    """One CPU generator per image, seeded ``seed + i`` (as the original Opendream did)."""
    if ctx is not None:
        return [ctx.generator(seed + i) for i in range(count)]
    import torch

    return [torch.Generator(device="cpu").manual_seed(seed + i) for i in range(count)]


def run_controlnet(
    ctx: Context | None,
    op: str,
    control: Image.Image,
    settings: ControlNetSettings,
) -> Image.Image:
    """Draw ``settings.prompt`` with a ControlNet txt2img pipeline of the base's family (SD
    1.x/2.x, SDXL, SD 3, Flux.1 …) steered by ``control`` (RGB); the result has ``control``'s
    size (padded with black, no control signal, to the sides the model takes and cropped
    back). An empty ``settings.controlnet_model`` is the settings' default of the role named
    ``op`` (e.g. ``controlnet_canny``). Progress, previews and cancel as ``run_pipeline``."""
    controlnet = manager_for(ctx).model_for(settings.controlnet_model, op)
    pipe = pipeline(
        ctx, "controlnet", settings.model, "dream", settings.scheduler, settings.loras,
        controlnet=controlnet, controlnet_role=op,
    )  # fmt: skip
    padded = pad_to_multiple(control, size_multiple(pipe), fill="zero")
    # SD's ControlNet pipelines take the control picture as ``image``; the others, as ``control_image``.
    control_argument = "control_image" if takes(pipe, "control_image") else "image"
    (image,) = run_pipeline(
        ctx,
        pipe,
        op,
        **{control_argument: padded},
        width=padded.width,
        height=padded.height,
        generator=generators(ctx, settings.seed, 1),
        prompt=settings.prompt,
        negative_prompt=settings.negative_prompt or None,
        num_inference_steps=settings.steps,
        guidance_scale=settings.guidance_scale,
        controlnet_conditioning_scale=settings.conditioning_scale,
    )
    return image.crop((0, 0, *control.size))


def controlnet_identity(role: str) -> Callable[[dict, Any], dict]:
    """``identity=`` hook of a ``run_controlnet`` op: its base model and ControlNet weights."""
    return model_identity("dream", controlnet=("controlnet_model", role))


def controlnet_op(title: str, version: str = "1") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a ControlNet op, run with ``run_controlnet`` (``@controlnet_op("ControlNet
    (Canny)")``): category ``control``; the function's name is the role of its ControlNet
    weights (an empty ``controlnet_model`` is the ``<name>_model`` setting); both models are in
    its cache key, and a recipe omitting the sampler settings takes the base model's family's."""

    def declare(func: Callable[..., Any]) -> Callable[..., Any]:
        return registry.op(
            version=version,
            title=title,
            category="control",
            identity=controlnet_identity(func.__name__),
            defaults=family_defaults("dream"),
        )(func)

    return declare
