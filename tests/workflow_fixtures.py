"""Test ops in their own registry and a sample project, shared by the workflow tests.
(Ops are never run here: workflow files only need their signatures.)"""

from __future__ import annotations

import io
from typing import Annotated

from PIL import Image

import opendream
from opendream import Field, ImageLayer, MaskLayer
from opendream.core.images import encode_png
from opendream.core.project import Project
from opendream.core.recipe import RunRecord, asset_ref, sha256_hex
from opendream.core.registry import OpRegistry

WF_OPS = OpRegistry()


@opendream.op(registry=WF_OPS, category="source")
def load_image(asset: str) -> ImageLayer:
    raise NotImplementedError


@opendream.op(registry=WF_OPS, category="source")
def paint_mask(asset: str) -> MaskLayer:
    raise NotImplementedError


@opendream.op(registry=WF_OPS)
def dream(
    prompt: str,
    seed: int = 42,
    steps: Annotated[int, Field(ge=1, le=150)] = 20,
    negative_prompt: str = "",
    guidance_scale: float = 7.5,
    width: int = 64,
    height: int = 64,
) -> ImageLayer:
    raise NotImplementedError


@opendream.op(registry=WF_OPS, deterministic=False)
def remote(prompt: str) -> ImageLayer:
    raise NotImplementedError


@opendream.op(registry=WF_OPS)
def inpaint(
    mask_layer: MaskLayer, image_layer: ImageLayer, prompt: str, seed: int = 42, device: str = "mps", **kwargs
) -> ImageLayer:
    raise NotImplementedError


@opendream.op(registry=WF_OPS)
def invert_mask(mask: MaskLayer) -> MaskLayer:
    raise NotImplementedError


@opendream.op(registry=WF_OPS)
def flatten(layers: list[ImageLayer]) -> ImageLayer:
    raise NotImplementedError


@opendream.op(registry=WF_OPS, returns="mask")
def segment(image_layer: ImageLayer, count: int = 3) -> list[MaskLayer]:
    raise NotImplementedError


with WF_OPS.origin("acme-tools"):

    @opendream.op(registry=WF_OPS)
    def acme_blur(image: ImageLayer, radius: float = 2.0) -> ImageLayer:
        raise NotImplementedError


def picture(seed: int, size: int = 16, mode: str = "RGB") -> Image.Image:
    image = Image.new("RGB", (size, size))
    image.putdata(
        [((x * 16 + seed) % 256, (y * 16) % 256, (seed * 37) % 256) for y in range(size) for x in range(size)]
    )
    return image.convert(mode)


def png(image: Image.Image) -> bytes:
    return encode_png(image)


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG")
    return buffer.getvalue()


class Blobs(dict[str, bytes]):
    """A blob store: hex -> bytes."""

    def put(self, image: Image.Image) -> str:
        data = png(image)
        self[sha256_hex(data)] = data
        return sha256_hex(data)


def sample_project() -> tuple[Project, Blobs]:
    """Every kind of layer a workflow holds: source layers, a deterministic and a remote
    generation, an inpaint with layer inputs and kwargs, a multi-output group, a list input,
    an op from an extension, a pending layer, a hidden layer, opacity, and a layer whose input
    sits above it in the stack."""
    blobs = Blobs()
    project = Project.new("cat on a beach", 64, 48)

    def add(
        op: str, params: dict, inputs: dict | None = None, name: str | None = None, *outputs: tuple
    ) -> str:
        layer = project.add_layer(WF_OPS.get(op), params, inputs or {}, name=name)
        if outputs:
            project.set_outputs(
                layer.id, [(kind, blobs.put(img)) for kind, img in outputs], RunRecord(duration=1)
            )
        return layer.id

    photo_asset = blobs.put(picture(1))
    mask_asset = blobs.put(picture(2, mode="L"))
    photo = add("load_image", {"asset": asset_ref(photo_asset)}, None, "photo", ("image", picture(1)))
    mask = add("paint_mask", {"asset": asset_ref(mask_asset)}, None, "mask", ("mask", picture(2, mode="L")))
    beach = add("dream", {"prompt": "a beach", "seed": 7}, None, "beach", ("image", picture(3)))
    sky = add("remote", {"prompt": "a sky"}, None, "sky", ("image", picture(4)))
    cat = add(
        "inpaint",
        {"prompt": "a cat", "seed": 3, "strength": 0.8},
        {"mask_layer": mask, "image_layer": beach},
        "cat",
        ("image", picture(5)),
    )
    add("invert_mask", {}, {"mask": mask}, "inverted")  # pending: never ran
    add(
        "segment",
        {"count": 3},
        {"image_layer": photo},
        "parts",
        ("mask", picture(6, mode="L")),
        ("mask", picture(7, mode="L")),
        ("mask", picture(8, mode="L")),
    )
    add("acme_blur", {"radius": 1.5}, {"image": sky}, "blurred", ("image", picture(9)))
    flat = add("flatten", {}, {"layers": [beach, cat]}, "flat", ("image", picture(10)))
    project.set_visible(mask, False)
    project.set_opacity(flat, 0.5)
    project.move_layer(cat, 0)  # below the layers it is made from
    return project, blobs
