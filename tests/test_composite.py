"""The canvas composite against reference arrays: placement (offset, scale, flips, clipping),
layer masks, opacity and the blend modes (values worked out from the W3C formulas by hand)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from opendream.core.composite import CanvasLayer, composite
from opendream.core.placement import Placement

BACKDROP = (100, 200, 250)
SOURCE = (200, 100, 50)
A, B, C, D = (255, 0, 0, 255), (0, 255, 0, 255), (0, 0, 255, 255), (255, 255, 0, 255)
CLEAR = (0, 0, 0, 0)


def solid(colour: tuple[int, ...], size: tuple[int, int] = (2, 2)) -> Image.Image:
    return Image.new("RGBA" if len(colour) == 4 else "RGB", size, colour)


def quad() -> Image.Image:
    """A 2x2 layer: A B on top, C D below."""
    image = Image.new("RGBA", (2, 2))
    image.putdata([A, B, C, D])
    return image


def pixels(image: Image.Image) -> list[list[tuple[int, ...]]]:
    array = np.asarray(image)
    return [[tuple(int(v) for v in px) for px in row] for row in array]


def test_an_offset_layer_lands_on_the_grid_and_is_clipped() -> None:
    out = composite([CanvasLayer(quad(), Placement(x=3, y=1))], (4, 3))
    assert pixels(out) == [
        [CLEAR, CLEAR, CLEAR, CLEAR],
        [CLEAR, CLEAR, CLEAR, A],
        [CLEAR, CLEAR, CLEAR, C],
    ]
    out = composite([CanvasLayer(quad(), Placement(x=-1, y=-1))], (2, 2))
    assert pixels(out) == [[D, CLEAR], [CLEAR, CLEAR]]


def test_a_layer_off_the_canvas_draws_nothing() -> None:
    out = composite([CanvasLayer(quad(), Placement(x=-2)), CanvasLayer(quad(), Placement(y=5))], (4, 4))
    assert not np.asarray(out).any()


def test_flips_mirror_within_the_box() -> None:
    assert pixels(composite([CanvasLayer(quad(), Placement(flip_x=True))], (2, 2))) == [[B, A], [D, C]]
    assert pixels(composite([CanvasLayer(quad(), Placement(flip_y=True))], (2, 2))) == [[C, D], [A, B]]
    both = Placement(flip_x=True, flip_y=True)
    assert pixels(composite([CanvasLayer(quad(), both)], (2, 2))) == [[D, C], [B, A]]


def test_scale_draws_the_layer_at_its_scaled_size() -> None:
    out = composite([CanvasLayer(solid(A, (1, 1)), Placement(x=1, y=1, scale=2.0))], (4, 4))
    alpha = np.asarray(out)[..., 3]
    assert alpha.tolist() == [[0, 0, 0, 0], [0, 255, 255, 0], [0, 255, 255, 0], [0, 0, 0, 0]]
    half = composite([CanvasLayer(solid(A, (8, 6)), Placement(scale=0.5))], (8, 8))
    assert np.asarray(half)[..., 3].astype(bool).sum(axis=1).tolist() == [4, 4, 4, 0, 0, 0, 0, 0]


def test_layer_mask_scales_alpha_in_the_layers_own_pixels_and_moves_with_it() -> None:
    mask = Image.new("L", (2, 2))
    mask.putdata([255, 0, 128, 64])
    out = composite([CanvasLayer(solid(A), Placement(x=1), mask=mask)], (3, 2))
    assert np.asarray(out)[..., 3].tolist() == [[0, 255, 0], [0, 128, 64]]


def test_a_layer_mask_of_another_size_is_resized_to_the_layer() -> None:
    out = composite([CanvasLayer(solid(A, (4, 4)), mask=Image.new("L", (2, 2), 128))], (4, 4))
    assert set(np.asarray(out)[..., 3].ravel().tolist()) == {128}


def test_opacity_and_mask_multiply() -> None:
    out = composite([CanvasLayer(solid(A), opacity=0.5, mask=Image.new("L", (2, 2), 128))], (2, 2))
    assert set(np.asarray(out)[..., 3].ravel().tolist()) == {64}


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("normal", SOURCE),
        ("multiply", (78, 78, 49)),
        ("screen", (222, 222, 251)),
        ("overlay", (157, 188, 247)),
        ("soft-light", (134, 191, 247)),
    ],
)
def test_blend_modes_of_opaque_layers(mode: str, expected: tuple[int, int, int]) -> None:
    out = composite([CanvasLayer(solid(BACKDROP)), CanvasLayer(solid(SOURCE), blend=mode)], (2, 2))
    assert pixels(out)[1][1] == (*expected, 255)


def test_a_half_transparent_multiply_mixes_with_the_backdrop() -> None:
    layers = [CanvasLayer(solid(BACKDROP)), CanvasLayer(solid(SOURCE), opacity=128 / 255, blend="multiply")]
    assert pixels(composite(layers, (2, 2)))[0][0] == (89, 139, 149, 255)


def test_a_blend_mode_over_transparency_is_the_layer_itself() -> None:
    out = composite([CanvasLayer(solid(SOURCE), blend="multiply")], (2, 2))
    assert pixels(out)[0][0] == (*SOURCE, 255)


def test_a_blended_layer_is_clipped_and_placed_like_any_other() -> None:
    layers = [
        CanvasLayer(solid(BACKDROP, (4, 4))),
        CanvasLayer(solid(SOURCE), Placement(x=3, y=-1), blend="screen"),
    ]
    out = pixels(composite(layers, (4, 4)))
    assert out[0][3] == (222, 222, 251, 255)
    assert out[0][2] == out[1][3] == (*BACKDROP, 255)


def test_blending_in_bands_equals_blending_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    base = Image.fromarray(rng.integers(0, 256, (40, 30, 4), dtype=np.uint8), "RGBA")
    top = Image.fromarray(rng.integers(0, 256, (40, 30, 4), dtype=np.uint8), "RGBA")
    layers = [CanvasLayer(base), CanvasLayer(top, Placement(x=2, y=3), blend="soft-light")]
    whole = np.asarray(composite(layers, (30, 40)))
    monkeypatch.setattr("opendream.core.composite.BAND_ROWS", 7)
    assert np.array_equal(np.asarray(composite(layers, (30, 40))), whole)
