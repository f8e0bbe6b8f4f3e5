"""Compositing: the canvas as one image, or the part of it under a region."""

from typing import Annotated

from PIL import Image, ImageChops
from pydantic import BaseModel, ConfigDict

import opendream
from opendream import Field, ImageLayer, Layer, MaskLayer
from opendream.core.composite import CanvasLayer, composite
from opendream.core.placement import MAX_OFFSET_CANVASES, MAX_SCALE, MIN_SCALE, BlendMode, Placement
from opendream.core.project import MAX_SIZE, MIN_SIZE
from opendream.core.registry import MAX_LAYER_LIST

Offset = Annotated[int, Field(ge=-MAX_OFFSET_CANVASES * MAX_SIZE, le=MAX_OFFSET_CANVASES * MAX_SIZE)]
Side = Annotated[int, Field(ge=MIN_SIZE, le=MAX_SIZE)]
Left = Annotated[int, Field(ge=0, le=MAX_SIZE, description="Left edge of the region on the canvas")]
Top = Annotated[int, Field(ge=0, le=MAX_SIZE, description="Top edge of the region on the canvas")]


@opendream.op(title="Flatten", category="compose")
def flatten(
    layers: list[ImageLayer],
    background: Annotated[
        str, Field(pattern=r"^(transparent|#[0-9a-fA-F]{6})$", description="transparent or #rrggbb")
    ] = "transparent",
) -> Layer:
    """Composite the given image layers, first at the bottom, into one image layer the size of
    the first. The canvas's "flatten visible" fills ``layers`` with the visible ones in stack order."""
    if not layers:
        raise ValueError("`layers` has to name at least one image layer")
    size = layers[0].get_image().size
    flat = composite((CanvasLayer(layer.get_image()) for layer in layers), size)
    if background != "transparent":
        base = Image.new("RGBA", size, background)
        flat = Image.alpha_composite(base, flat).convert("RGB")
    return ImageLayer(image=flat)


class Drawn(BaseModel):
    """How one layer was drawn on the canvas when a region was taken."""

    model_config = ConfigDict(extra="forbid", title="Drawn layer")

    x: Offset = 0
    y: Offset = 0
    scale: float = Field(1.0, ge=MIN_SCALE, le=MAX_SCALE)
    flip_x: bool = False
    flip_y: bool = False
    opacity: float = Field(1.0, ge=0.0, le=1.0)
    blend: BlendMode = "normal"
    mask: int = Field(
        -1, ge=-1, lt=MAX_LAYER_LIST, description="Its layer mask: an index into masks; -1: none"
    )


@opendream.op(title="Canvas region", category="canvas")
def canvas_region(
    layers: list[ImageLayer],
    drawn: Annotated[list[Drawn], Field(min_length=1, max_length=MAX_LAYER_LIST)],
    x: Left,
    y: Top,
    width: Side,
    height: Side,
    output_width: Side,
    output_height: Side,
    masks: list[MaskLayer] | None = None,
) -> ImageLayer:
    """The canvas under a rectangle, composed from ``layers`` (bottom first) drawn as ``drawn``
    records (one per layer), scaled to ``output_width`` x ``output_height``: the size the model
    that takes it generates at. Transparent where nothing covers the canvas."""
    masks = masks or []
    records = [Drawn.model_validate(record) for record in drawn]  # validated params arrive as JSON
    if len(records) != len(layers):
        raise ValueError(f"`drawn` has {len(drawn)} records for {len(layers)} layers; give one per layer")
    if any(record.mask >= len(masks) for record in records):
        raise ValueError(f"a `drawn` record names a layer mask beyond the {len(masks)} in `masks`")
    region = composite(
        (
            CanvasLayer(
                layer.get_image(),
                Placement(record.x - x, record.y - y, record.scale, record.flip_x, record.flip_y),
                record.opacity,
                record.blend,
                masks[record.mask].get_image() if record.mask >= 0 else None,
            )
            for layer, record in zip(layers, records, strict=True)
        ),
        (width, height),
    )
    if region.size != (output_width, output_height):
        region = region.resize((output_width, output_height), Image.Resampling.LANCZOS)
    return ImageLayer(image=region)


@opendream.op(title="Mask region", category="canvas", returns="mask")
def mask_region(
    mask: MaskLayer,
    drawn: Annotated[list[Drawn], Field(min_length=1, max_length=1)],
    x: Left,
    y: Top,
    width: Side,
    height: Side,
    output_width: Side,
    output_height: Side,
) -> MaskLayer:
    """A mask layer as placed on the canvas (``drawn``: its placement when the region was
    taken), cut to the rectangle and scaled to ``output_width`` x ``output_height``, so it lines up
    with the ``canvas_region`` of the same rectangle. Unselected (black) where it does not reach."""
    (record,) = [Drawn.model_validate(value) for value in drawn]  # validated params arrive as JSON
    grey = mask.get_image().convert("L")
    placed = composite(
        [
            CanvasLayer(
                grey.convert("RGBA"),
                Placement(record.x - x, record.y - y, record.scale, record.flip_x, record.flip_y),
            )
        ],
        (width, height),
    )
    alpha = placed.getchannel("A")
    cut = ImageChops.multiply(placed.getchannel("R"), alpha)
    if cut.size != (output_width, output_height):
        cut = cut.resize((output_width, output_height), Image.Resampling.BILINEAR)
    return MaskLayer(image=cut)
