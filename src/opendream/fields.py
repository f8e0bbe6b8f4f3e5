"""Parameter types shared by ops: annotate a parameter with one of these and its schema carries
the bounds and the form hints the UI and the server read (``docs/extensions.md``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

MIN_SIDE, MAX_SIDE = 64, 2048  # pixels; Stable Diffusion works on multiples of 8


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


Width = canvas_side("width")
Height = canvas_side("height")
