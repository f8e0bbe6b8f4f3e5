"""``img2img``: redraw an image layer guided by a prompt."""

from __future__ import annotations

import opendream
from opendream import Context, ImageLayer
from opendream.fields import (
    FEW_STEP_PRESETS,
    Guidance,
    Loras,
    Model,
    NegativePrompt,
    Prompt,
    ScaledSteps,
    SchedulerName,
    Seed,
    Strength,
)
from opendream.images import pad_to_multiple
from opendream.pipelines import (
    check_image_to_image,
    family_defaults,
    generators,
    model_identity,
    pipeline,
    run_pipeline,
    size_multiple,
)


@opendream.op(
    version="1",
    title="Image to image",
    category="edit",
    identity=model_identity("dream"),
    defaults=family_defaults("dream"),
    presets=FEW_STEP_PRESETS,
)
def img2img(
    image_layer: ImageLayer,
    prompt: Prompt,
    negative_prompt: NegativePrompt = "",
    strength: Strength = 0.75,
    steps: ScaledSteps = 20,
    guidance_scale: Guidance = 7.5,
    seed: Seed = 42,
    scheduler: SchedulerName = "default",
    model: Model = "",
    loras: Loras = [],  # noqa: B006 (validated params are copies; never mutated)
    ctx: Context = None,
) -> ImageLayer:
    """Redraw ``image_layer`` following ``prompt``.

    Runs ``int(steps * strength)`` denoising steps starting from the noised input. Sizes that
    are not multiples of 8 (16 for the transformer families) are padded (edge pixels repeated)
    for the model and cropped back, so the output has the input's size. An alpha channel is
    dropped.

    Args:
        image_layer (`ImageLayer`): the picture to start from.
        prompt (`str`): what the result should show.
        strength (`float`, defaults to 0.75): 0 < strength <= 1; higher changes more.
        scheduler (`str`, defaults to ``default``, the model's own): a sampler as in ``dream``;
            the few-step presets set ``lcm``, ``tcd`` or ``euler_trailing``.
        steps (`int`, defaults to 20), guidance_scale (`float`), seed (`int`), model (`str`): as in ``dream``.
    """
    # 1. Check inputs
    width, height = image_layer.get_image().size
    check_image_to_image("img2img", (width, height), strength, steps, guidance_scale)

    # 2. Get the pipeline (shares the dream model's weights)
    pipe = pipeline(ctx, "img2img", model, "dream", scheduler, loras)

    # 3. Prepare the input (RGB, padded to the sides the model takes) and denoise
    image = pad_to_multiple(image_layer.get_image().convert("RGB"), size_multiple(pipe))
    (result,) = run_pipeline(
        ctx,
        pipe,
        "img2img",
        prompt=prompt,
        negative_prompt=negative_prompt or None,
        image=image,
        width=image.width,
        height=image.height,
        strength=strength,
        num_inference_steps=steps,
        guidance_scale=guidance_scale,
        generator=generators(ctx, seed, 1),
    )

    # 4. Crop the padding away
    return ImageLayer(image=result.crop((0, 0, width, height)))
