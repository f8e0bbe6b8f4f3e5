"""Parameter types shared by ops: annotate a parameter with one of these and its schema carries
the bounds, the description and the form hints the UI and the server read
(``docs/extensions.md``). To change only the description, wrap one again:
``Annotated[Steps, Field(description="...")]``. The parameter groups (``TextToImage``,
``ControlNetSettings``) declare the settings several ops ask once: an op takes one as a single
parameter, and its fields are the op's params."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MIN_SIDE, MAX_SIDE = 64, 2048  # pixels; Stable Diffusion works on multiples of 8
MAX_PROMPT = 4000
MAX_STEPS = 150
MAX_GUIDANCE = 30
MAX_SEED = 2**32 - 1
MAX_LORAS = 8
MAX_LORA_WEIGHT = 4.0


def canvas_side(side: Literal["width", "height"]) -> Any:
    """An output size in pixels that, when omitted, is the canvas's ``side`` (if it fits)."""
    return Annotated[
        int,
        Field(
            ge=MIN_SIDE,
            le=MAX_SIDE,
            multiple_of=8,
            description=f"Pixels; omitted: the canvas's {side}",
            json_schema_extra={"x-opendream-canvas": side},
        ),
    ]


def text(description: str, *, prompt: bool = False, widget: str = "textarea", **constraints: Any) -> Any:
    """A free text shown as a textarea (a prompt, an instruction), at most ``MAX_PROMPT`` chars
    unless ``constraints`` say otherwise. ``prompt``: a diffusion model's text prompt, where the
    form offers the textual-inversion embeddings found here (``x-opendream-prompt``).
    ``widget``: another text widget (``points``, ``box``)."""
    hints: dict[str, Any] = {"x-opendream-widget": widget}
    if prompt:
        hints["x-opendream-prompt"] = True
    return Annotated[
        str,
        Field(description=description, json_schema_extra=hints, **{"max_length": MAX_PROMPT, **constraints}),
    ]


def already_made_by(op: str, description: str, input: str = "image") -> Any:
    """A flag saying that the layer given for ``input`` already is what ``op`` makes (an edge
    map, a pose), so the op skips that step; the form ticks it when the picked layer is one of
    ``op``'s (``x-opendream-made-by``)."""
    return Annotated[
        bool,
        Field(description=description, json_schema_extra={"x-opendream-made-by": {"input": input, "op": op}}),
    ]


Width = canvas_side("width")
Height = canvas_side("height")
Prompt = text("What to draw", prompt=True)
NegativePrompt = text("What to avoid", prompt=True)
Steps = Annotated[int, Field(ge=1, le=MAX_STEPS, description="Denoising steps")]
#: Steps of an op that denoises an input image: diffusers runs ``int(steps * strength)``.
ScaledSteps = Annotated[Steps, Field(description="Denoising steps (scaled by strength)")]
Guidance = Annotated[float, Field(ge=0, le=MAX_GUIDANCE, description="How closely to follow the prompt")]
#: Image ``i`` of a batch uses ``seed + i`` (see ``opendream.pipelines.generators``).
Seed = Annotated[int, Field(ge=0, le=MAX_SEED, json_schema_extra={"x-opendream-widget": "seed"})]
Model = Annotated[
    str,
    Field(
        description="Repo id, folder or .safetensors file; empty = default",
        # The form offers the models available here (GET /api/models); free text still goes.
        json_schema_extra={"x-opendream-widget": "model"},
    ),
]
Strength = Annotated[float, Field(gt=0, le=1, description="How much to change (1 = ignore the input)")]
#: The samplers ``opendream.pipelines.make_scheduler`` builds; ``default``: the model's own
#: (the only one a flow-matching model such as Flux or SD 3 takes); ``lcm``, ``tcd`` and
#: ``euler_trailing`` are the few-step ones (LCM/TCD LoRAs, Hyper-SD and Lightning).
SchedulerName = Literal[
    "euler_a", "euler", "dpmpp_2m", "ddim", "unipc", "lcm", "tcd", "euler_trailing", "default"
]
#: What the form offers for few-step models and LoRAs (``@opendream.op(presets=...)``); a
#: recipe records the values a preset set.
FEW_STEP_PRESETS = [
    {
        "title": "Fast: 4 steps, LCM (LCM models and LoRAs)",
        "values": {"steps": 4, "guidance_scale": 1.0, "scheduler": "lcm"},
    },
    {
        "title": "Fast: 4 steps, TCD (TCD LoRAs)",
        "values": {"steps": 4, "guidance_scale": 1.0, "scheduler": "tcd"},
    },
    {
        "title": "Fast: 4 steps, trailing (Hyper-SD, Lightning)",
        "values": {"steps": 4, "guidance_scale": 1.0, "scheduler": "euler_trailing"},
    },
    {
        "title": "Turbo / schnell: 4 steps, no guidance",
        "values": {"steps": 4, "guidance_scale": 0.0, "scheduler": "default"},
    },
]


class LoraRef(BaseModel):
    """One LoRA of a run: which, and how strongly (0 = not at all, negative = the opposite)."""

    model_config = ConfigDict(extra="forbid", title="LoRA")

    model: str = Field(
        min_length=1,
        max_length=1000,
        description="A .safetensors LoRA (A1111/Kohya, ComfyUI or diffusers format) or a hub repo id",
    )
    weight: float = Field(1.0, ge=-MAX_LORA_WEIGHT, le=MAX_LORA_WEIGHT, description="Strength")


def _each_once(loras: list[LoraRef]) -> list[LoraRef]:
    names = [ref.model.strip() for ref in loras]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(
            f"lists {', '.join(map(repr, twice))} twice; give each LoRA once, with the weight wanted"
        )
    return loras


#: The LoRAs of a generation op, applied to its model for the run only (an op receives each
#: as a ``{"model", "weight"}`` dict; ``opendream.pipelines.pipeline`` takes them so).
Loras = Annotated[
    list[LoraRef],
    AfterValidator(_each_once),
    Field(
        max_length=MAX_LORAS,
        title="LoRAs",
        description="LoRAs applied to the model for this layer",
        json_schema_extra={"x-opendream-widget": "loras"},
    ),
]

# ControlNet ops (``controlnet_canny``, ``controlnet_openpose``) share these.
ControlNetBase = Annotated[
    Model, Field(description="Base model: repo id, folder or .safetensors; empty = default")
]
ControlNetScheduler = Literal["unipc", "euler_a", "euler", "default"]
ConditioningScale = Annotated[
    float, Field(ge=0, le=2, description="How strongly the control image steers the result")
]
ControlNetModel = Annotated[
    str, Field(description="ControlNet: repo id, folder or .safetensors; empty = default")
]


class PromptGroup(BaseModel):
    """What the parameter groups of diffusion ops start with: the prompt and what to avoid.
    Groups are validated when made, so a direct Python call is checked as a recipe is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt: Prompt
    negative_prompt: NegativePrompt = ""


class TextToImage(PromptGroup):
    """What a text-to-image op asks (the built-in ``dream``, the bundled ``serverless``)."""

    width: Width = 512
    height: Height = 512
    steps: Steps = 20
    guidance_scale: Guidance = 7.5
    seed: Seed = 42


class ControlNetSettings(PromptGroup):
    """What a ControlNet op (``controlnet_canny``, ``controlnet_openpose``) draws, how strongly
    the control image steers it, the sampler and the models: passed whole to
    ``opendream.pipelines.run_controlnet``."""

    conditioning_scale: ConditioningScale = 1.0
    steps: Steps = 20
    guidance_scale: Guidance = 7.5
    scheduler: ControlNetScheduler = "unipc"
    seed: Seed = 42
    model: ControlNetBase = ""
    controlnet_model: ControlNetModel = ""
    loras: Loras = []
