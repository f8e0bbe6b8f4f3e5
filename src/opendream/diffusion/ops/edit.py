"""``edit``: change an image layer by an instruction, with a model built for it (Flux.1 Kontext,
Flux.2, Qwen-Image-Edit), beside the bundled ``instruct_pix2pix`` for SD 1.x."""

from __future__ import annotations

import opendream
from opendream import Context, ImageLayer
from opendream.fields import MAX_GUIDANCE, MAX_STEPS, MIN_SIDE, Guidance, Loras, Model, Seed, Steps, text
from opendream.images import pad_to_multiple
from opendream.pipelines import (
    MAX_INPUT_SIDE,
    check_inputs,
    family_defaults,
    generators,
    model_identity,
    pipeline,
    range_check,
    run_pipeline,
    side_check,
    size_multiple,
    takes,
)

Instruction = text("What to change, e.g. 'make it night'", min_length=1)


@opendream.op(
    version="1",
    title="Edit by instruction",
    category="edit",
    identity=model_identity("edit"),
    defaults=family_defaults("edit"),
)
def edit(
    image_layer: ImageLayer,
    instruction: Instruction,
    steps: Steps = 28,
    guidance_scale: Guidance = 2.5,
    seed: Seed = 42,
    model: Model = "",
    loras: Loras = [],  # noqa: B006 (validated params are copies; never mutated)
    ctx: Context = None,
) -> ImageLayer:
    """Change ``image_layer`` as ``instruction`` says, keeping what it does not mention.

    The picture is the model's reference, not a start to denoise from, so there is no
    strength. The output has the input's size (padded for the model to the sides it takes, at
    least 64 px, and cropped back); an alpha channel is dropped.

    Args:
        image_layer (`ImageLayer`): the picture to edit.
        instruction (`str`): what to change.
        steps (`int`), guidance_scale (`float`), seed (`int`): as in ``dream``; omitted, they
            take the model's family's defaults.
        model (`str`, *optional*): an instruction-editing model (Flux.1 Kontext, Flux.2,
            Qwen-Image-Edit); empty uses the ``edit_model`` setting.
    """
    # 1. Check inputs
    source = image_layer.get_image()
    width, height = source.size
    check_inputs(
        "edit",
        image_layer=side_check(source.size, MAX_INPUT_SIDE),
        steps=range_check(steps, 1, MAX_STEPS),
        guidance_scale=range_check(guidance_scale, 0, MAX_GUIDANCE),
    )

    # 2. Get the editing pipeline; pad the picture to the sides it takes (Flux.2 takes no
    #    reference under 64 px a side)
    pipe = pipeline(ctx, "edit", model, "edit", loras=loras)
    image = pad_to_multiple(source.convert("RGB"), size_multiple(pipe), at_least=MIN_SIDE)

    # 3. Denoise at the picture's own size: Kontext would otherwise resize the reference to
    #    one of its preferred sizes
    (result,) = run_pipeline(
        ctx,
        pipe,
        "edit",
        image=image,
        prompt=instruction,
        width=image.width,
        height=image.height,
        num_inference_steps=steps,
        guidance_scale=guidance_scale,
        generator=generators(ctx, seed, 1),
        **({"_auto_resize": False} if takes(pipe, "_auto_resize") else {}),
    )

    # 4. Crop the padding away
    return ImageLayer(image=result.crop((0, 0, width, height)))
