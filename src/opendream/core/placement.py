"""Where a layer sits on the canvas and how it mixes with what is under it.

A layer's pixels are what its recipe makes; its placement (offset, uniform scale, flips), blend
mode and layer mask belong to the document: changing them never re-runs anything. The canvas's
composite (editor, ``export.png``, ``opendream run``) applies them; ops always receive a layer's
own pixels. Rotation is left out: it cannot be drawn identically by the browser and the export."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from opendream.core.errors import InvalidParams

BlendMode = Literal["normal", "multiply", "screen", "overlay", "soft-light"]
BLEND_MODES: tuple[str, ...] = get_args(BlendMode)
Anchor = Literal[
    "top-left", "top", "top-right", "left", "center", "right", "bottom-left", "bottom", "bottom-right"
]
ANCHORS: tuple[str, ...] = get_args(Anchor)
MIN_SCALE, MAX_SCALE = 0.01, 16.0
#: How far a layer may be moved off the canvas, in canvas widths/heights.
MAX_OFFSET_CANVASES = 4


def _error(param: str, message: str) -> InvalidParams:
    return InvalidParams("layer", [{"param": param, "message": message}])


@dataclass(frozen=True)
class Placement:
    """``(x, y)``: the canvas pixel the top-left corner of the scaled image goes to. The image is
    drawn at ``scaled_size`` and mirrored within that box by the flips. Offsets are whole pixels so
    an unscaled layer lands on the canvas grid exactly, in the browser as in the export."""

    x: int = 0
    y: int = 0
    scale: float = 1.0
    flip_x: bool = False
    flip_y: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> Placement:
        return cls(**(data or {}))

    @property
    def is_identity(self) -> bool:
        return self == Placement()

    def scaled_size(self, size: tuple[int, int]) -> tuple[int, int]:
        return max(1, round(size[0] * self.scale)), max(1, round(size[1] * self.scale))

    def box(self, size: tuple[int, int]) -> tuple[int, int, int, int]:
        """``(left, top, right, bottom)`` on the canvas of a layer of ``size`` own pixels."""
        width, height = self.scaled_size(size)
        return self.x, self.y, self.x + width, self.y + height

    def moved(self, dx: int, dy: int) -> Placement:
        return Placement(self.x + dx, self.y + dy, self.scale, self.flip_x, self.flip_y)


def checked_placement(current: Placement, changes: dict[str, Any], canvas: tuple[int, int]) -> Placement:
    """``current`` with ``changes`` (any of its fields) merged in, each changed value checked:
    whole-pixel offsets within ±4 canvases, a finite scale in [0.01, 16], booleans for the flips.
    (Unchanged values are not: a canvas resize may have left an offset beyond the bound.)"""
    unknown = sorted(set(changes) - set(Placement.__dataclass_fields__))
    if unknown:
        raise _error(
            "placement", f"unknown field(s) {', '.join(unknown)}; known: x, y, scale, flip_x, flip_y"
        )
    merged = {**current.to_dict(), **changes}
    for name, limit in (("x", canvas[0]), ("y", canvas[1])):
        if name not in changes:
            continue
        value = merged[name]
        bound = MAX_OFFSET_CANVASES * limit
        if not isinstance(value, int) or isinstance(value, bool) or not -bound <= value <= bound:
            raise _error(
                f"placement.{name}",
                f"has to be a whole number of pixels in [{-bound}, {bound}] (4 canvases) but is {value!r}",
            )
    scale = merged["scale"]
    if "scale" in changes and (
        isinstance(scale, bool)
        or not isinstance(scale, int | float)
        or not math.isfinite(scale)
        or not MIN_SCALE <= scale <= MAX_SCALE
    ):
        raise _error("placement.scale", f"has to be a number in [{MIN_SCALE}, {MAX_SCALE}] but is {scale!r}")
    for name in ("flip_x", "flip_y"):
        if name in changes and not isinstance(merged[name], bool):
            raise _error(f"placement.{name}", f"has to be true or false but is {merged[name]!r}")
    return Placement(merged["x"], merged["y"], float(scale), merged["flip_x"], merged["flip_y"])


def checked_blend(mode: Any) -> BlendMode:
    if mode not in BLEND_MODES:
        raise _error("blend", f"has to be one of {', '.join(BLEND_MODES)} but is {mode!r}")
    return mode


def anchor_offset(anchor: str, old: tuple[int, int], new: tuple[int, int]) -> tuple[int, int]:
    """How far the picture moves when the canvas goes from ``old`` to ``new`` keeping ``anchor``
    in place (``center`` splits the difference, rounding toward the top-left)."""
    if anchor not in ANCHORS:
        raise InvalidParams(
            "canvas",
            [{"param": "anchor", "message": f"has to be one of {', '.join(ANCHORS)} but is {anchor!r}"}],
        )
    vertical, _, horizontal = anchor.partition("-") if "-" in anchor else (anchor, "", anchor)
    dx = {"left": 0, "right": new[0] - old[0]}.get(horizontal, (new[0] - old[0]) // 2)
    dy = {"top": 0, "bottom": new[1] - old[1]}.get(vertical, (new[1] - old[1]) // 2)
    return dx, dy
