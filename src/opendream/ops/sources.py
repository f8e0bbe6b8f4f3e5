"""Source ops: layers whose pixels come from the user, not from computation.

Their recipe names an asset (a blob hash) that workflow files carry."""

from typing import Annotated

from pydantic import Field

import opendream
from opendream import Context, ImageLayer, MaskLayer

AssetRef = Annotated[
    str,
    Field(
        pattern=r"^sha256:[0-9a-f]{64}$",
        description="An uploaded picture, by hash",
        json_schema_extra={"x-opendream-asset": True},
    ),
]


@opendream.op(title="Image", category="source")
def load_image(asset: AssetRef, ctx: Context) -> ImageLayer:
    """An uploaded picture."""
    image = ctx.load_asset(asset)
    return ImageLayer(image=image if image.mode in ("RGB", "RGBA") else image.convert("RGBA"))


@opendream.op(title="Paint", category="source")
def paint(asset: AssetRef, ctx: Context) -> ImageLayer:
    """Colour painted in the browser (transparent where nothing is painted). Painting again
    replaces the asset and re-runs the layers made from it."""
    return ImageLayer(image=ctx.load_asset(asset).convert("RGBA"))


@opendream.op(title="Painted mask", category="source")
def paint_mask(asset: AssetRef, ctx: Context) -> MaskLayer:
    """A mask painted in the browser: white is selected."""
    return MaskLayer(image=ctx.load_asset(asset))
