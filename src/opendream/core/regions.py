"""Generation regions: a rectangle of the canvas taken as an op's input and the size a model
generates it at.

The visible canvas under a region becomes a ``canvas_region`` layer whose recipe lists the
layers it is composed from and how each was drawn at that moment (placement, opacity, blend
mode, layer mask), so a replay recomposes the same pixels and a change to any of those layers
re-runs it like any descendant. What is generated from it is placed back at the region."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from opendream.core.errors import InvalidParams
from opendream.core.project import MIN_SIZE, Project
from opendream.core.registry import MAX_LAYER_LIST, OpSpec

#: The largest side a region is generated at: beyond it a model's memory use explodes.
MAX_GENERATION_SIDE = 2048


@dataclass(frozen=True)
class Region:
    """A rectangle of the canvas, in canvas pixels."""

    x: int
    y: int
    width: int
    height: int

    def check(self, canvas: tuple[int, int]) -> Region:
        """The region itself when it is at least 8 px each way and inside the canvas."""
        problems = []
        if self.width < MIN_SIZE or self.height < MIN_SIZE:
            problems.append(
                ("size", f"has to be at least {MIN_SIZE}x{MIN_SIZE} px but is {self.width}x{self.height}")
            )
        if self.x < 0 or self.y < 0 or self.x + self.width > canvas[0] or self.y + self.height > canvas[1]:
            problems.append(
                (
                    "region",
                    f"({self.x}, {self.y}, {self.width}x{self.height}) has to lie inside the "
                    f"{canvas[0]}x{canvas[1]} canvas",
                )
            )
        if problems:
            raise InvalidParams("region", [{"param": p, "message": m} for p, m in problems])
        return self


def generation_size(region: Region, native: int, multiple: int = 8) -> tuple[int, int]:
    """The size to generate ``region`` at: about the model's native area (``native`` squared)
    with the region's aspect, on the model's ``multiple`` grid. Among the grid widths near the
    ideal one it takes the one whose height keeps the aspect best, since the result is placed
    back with one uniform scale (the placed height is off by at most half a grid step)."""
    scale = min(
        native / math.sqrt(region.width * region.height),
        MAX_GENERATION_SIDE / max(region.width, region.height),
    )
    ideal = region.width * scale
    best: tuple[float, float, int, int] | None = None
    low = max(multiple, math.floor(ideal * 0.9 / multiple) * multiple)
    for width in range(low, math.ceil(ideal * 1.1 / multiple) * multiple + 1, multiple):
        height = max(multiple, round(width * region.height / region.width / multiple) * multiple)
        if max(width, height) > MAX_GENERATION_SIDE:
            continue
        error = abs(height * region.width / width - region.height)
        candidate = (round(error, 6), abs(width - ideal), width, height)
        best = candidate if best is None or candidate < best else best
    if best is None:  # a region too thin for the grid: its long side at the limit
        return multiple, multiple
    return best[2], best[3]


def region_inputs(spec: OpSpec, with_mask: bool) -> tuple[str | None, str | None]:
    """The inputs of ``spec`` a region fills: its single required image input (``None`` for an
    op that generates from nothing, like ``dream``: it is told the size instead, see
    ``region_size_params``) and, ``with_mask``, its single mask input (the cut mask).
    ``InvalidParams`` when it has no mask input for the mask."""

    def single(kind: str) -> str | None:
        found = [p.name for p in spec.layer_params if p.kind == kind and not p.many and p.required]
        return found[0] if len(found) == 1 else None

    mask = single("mask") if with_mask else None
    if with_mask and mask is None:
        raise InvalidParams(
            "region",
            [{"param": "generate", "message": f"{spec.name} has no single mask input for the cut mask"}],
        )
    return single("image"), mask


def region_size_params(spec: OpSpec, size: tuple[int, int]) -> dict[str, int]:
    """The params that make an op without an image input generate at ``size``: its width and
    height (declared ``x-opendream-canvas``). ``InvalidParams`` when it has neither."""
    found = spec.canvas_defaults(size)
    if len(found) != 2:
        raise InvalidParams(
            "region",
            [
                {
                    "param": "generate",
                    "message": f"{spec.name} has no single image input or width and height to generate "
                    "a region with",
                }
            ],
        )
    return found


def region_recipe(
    project: Project,
    region: Region,
    size: tuple[int, int],
    image_size: Callable[[str], tuple[int, int] | None],
) -> tuple[dict, dict]:
    """``(params, inputs)`` of a ``canvas_region`` layer for ``region`` generated at ``size``:
    the visible image layers that reach into the region, bottom first, each as it is drawn now.
    ``image_size(layer_id)`` is a layer's own pixel size, ``None`` while it has none (such a layer
    is kept: it may cover the region once it has run)."""
    region.check((project.width, project.height))
    layers, drawn, masks = [], [], []
    for layer in project.layers:
        if not layer.visible or layer.kind != "image":
            continue
        size_now = image_size(layer.id)
        if size_now is not None:
            left, top, right, bottom = layer.placement.box(size_now)
            if (
                right <= region.x
                or bottom <= region.y
                or left >= region.x + region.width
                or top >= region.y + region.height
            ):
                continue
        mask_index = -1
        if layer.mask is not None:
            if layer.mask not in masks:
                masks.append(layer.mask)
            mask_index = masks.index(layer.mask)
        layers.append(layer.id)
        drawn.append(
            {
                **layer.placement.to_dict(),
                "opacity": layer.opacity,
                "blend": layer.blend,
                "mask": mask_index,
            }
        )
    if not layers:
        raise InvalidParams(
            "region", [{"param": "region", "message": "no visible image layer reaches into it"}]
        )
    if len(layers) > MAX_LAYER_LIST:
        raise InvalidParams(
            "region",
            [
                {
                    "param": "region",
                    "message": f"{len(layers)} visible layers reach into it; a region takes at most "
                    f"{MAX_LAYER_LIST} (flatten some first)",
                }
            ],
        )
    params = {**_where(region, size), "drawn": drawn}
    inputs: dict = {"layers": layers}
    if masks:
        inputs["masks"] = masks
    return params, inputs


def mask_recipe(project: Project, region: Region, size: tuple[int, int], mask_id: str) -> tuple[dict, dict]:
    """``(params, inputs)`` of a ``mask_region`` layer: the mask layer ``mask_id`` as it is placed
    now, cut to ``region`` and scaled to ``size``."""
    region.check((project.width, project.height))
    params = {**_where(region, size), "drawn": [project.layer(mask_id).placement.to_dict()]}
    return params, {"mask": mask_id}


def _where(region: Region, size: tuple[int, int]) -> dict[str, int]:
    """The params that say where a region is and the size it is taken at."""
    return {
        "x": region.x,
        "y": region.y,
        "width": region.width,
        "height": region.height,
        "output_width": size[0],
        "output_height": size[1],
    }
