"""ControlNet (Canny): ``canny_edges`` makes the edge map its own layer, ``controlnet_canny``
draws a prompt that follows the edges of an image (or of an edge-map layer given directly).

A bundled extension: it uses only the public op API, like a third-party one. torch, diffusers
and OpenCV are imported inside the functions that need them; the ControlNet pipeline run
(``opendream.pipelines.run_controlnet``) and its settings (``opendream.fields.ControlNetSettings``)
are shared with ``openpose``."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from PIL import Image

import opendream
from opendream import Context, Field, ImageLayer
from opendream.fields import ControlNetSettings, already_made_by
from opendream.pipelines import check_inputs, controlnet_op, run_controlnet, side_check

Threshold = Annotated[int, Field(ge=0, le=255, description="Canny hysteresis threshold (0-255)")]
IsEdgeMap = already_made_by(
    "canny_edges", "The layer already is an edge map (e.g. from Canny edges): skip Canny"
)


def canny(image: Image.Image, low_threshold: int, high_threshold: int) -> Image.Image:
    """White edges on black, RGB (the form ControlNet-Canny models were trained on)."""
    import cv2

    edges = cv2.Canny(np.asarray(image.convert("RGB")), low_threshold, high_threshold)
    return Image.fromarray(edges, "L").convert("RGB")


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
    check_inputs(
        "canny_edges",
        low_threshold=(
            0 <= low_threshold <= high_threshold <= 255,
            f"has to be between 0 and `high_threshold` ({high_threshold}) but is {low_threshold}",
        ),
        image=side_check(image.get_image().size),
    )
    return ImageLayer(image=canny(image.get_image(), low_threshold, high_threshold))


@controlnet_op("ControlNet (Canny)")
def controlnet_canny(
    image: ImageLayer,
    image_is_edge_map: IsEdgeMap = False,
    low_threshold: Threshold = 100,
    high_threshold: Threshold = 200,
    *,
    settings: ControlNetSettings,
    ctx: Context = None,
) -> ImageLayer:
    """Draw ``prompt`` following the edges of ``image``.

    The output has ``image``'s size (padded to multiples of 8 for the model, cropped back).

    Args:
        image (`ImageLayer`): the picture whose edges to follow, or an edge map when
            ``image_is_edge_map`` is set (white edges on black, any size).
        low_threshold, high_threshold (`int`): Canny thresholds (ignored for an edge map).
        settings (`ControlNetSettings`): its params ``prompt`` and ``negative_prompt`` (what to
            draw and what to avoid), ``conditioning_scale`` (defaults to 1.0; 0 ignores the
            edges), ``steps``, ``guidance_scale``, ``scheduler``, ``seed``,
            ``model`` (the base model; empty = the ``dream_model`` setting),
            ``controlnet_model`` (empty = the ``controlnet_canny_model`` setting) and ``loras``.
    """
    source = image.get_image()
    check_inputs(
        "controlnet_canny",
        image=side_check(source.size),
        low_threshold=(
            0 <= low_threshold <= high_threshold <= 255,
            f"has to be between 0 and `high_threshold` ({high_threshold}) but is {low_threshold}",
        ),
    )
    control = source.convert("RGB") if image_is_edge_map else canny(source, low_threshold, high_threshold)
    result = run_controlnet(ctx, "controlnet_canny", control, settings)
    return ImageLayer(image=result)
