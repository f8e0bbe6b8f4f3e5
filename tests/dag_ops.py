"""Model-free test ops in their own registry, for DAG tests."""

from typing import Annotated

from PIL import Image

import opendream
from opendream import Field, ImageLayer, Layer, MaskLayer
from opendream.core.registry import OpRegistry

DAG_OPS = OpRegistry()


@opendream.op(registry=DAG_OPS)
def source(seed: int = 0) -> ImageLayer:
    return ImageLayer(image=Image.new("RGB", (8, 8), (seed % 256, 0, 0)))


@opendream.op(registry=DAG_OPS, returns="mask")
def shape(seed: int = 0) -> MaskLayer:
    return MaskLayer(image=Image.new("L", (8, 8), seed % 256))


@opendream.op(registry=DAG_OPS)
def blend(
    a: ImageLayer,
    b: ImageLayer | None = None,
    m: MaskLayer | None = None,
    amount: Annotated[float, Field(ge=0, le=1)] = 0.5,
) -> Layer:
    return Layer(image=a.get_image())


@opendream.op(registry=DAG_OPS, returns="mask")
def split(count: Annotated[int, Field(ge=1, le=5)] = 2) -> list[MaskLayer]:
    return [MaskLayer(image=Image.new("L", (8, 8), 40 * i)) for i in range(count)]


@opendream.op(registry=DAG_OPS, title="Prompted")
def prompted(prompt: str, seed: int = 0) -> ImageLayer:
    return ImageLayer(image=Image.new("RGB", (8, 8), (seed % 256, 0, 0)))
