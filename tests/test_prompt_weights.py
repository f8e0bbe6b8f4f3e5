"""Prompt weights in A1111's syntax (issue 15 §2): parsed with pyparsing into weighted runs,
encoded by compel for SD 1.x/2.x and SDXL through the real pipelines, refused with a message
for the families compel cannot weigh and for brackets that do not pair."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from opendream import ImageLayer
from opendream.core.errors import InvalidParams
from opendream.diffusion.manager import ModelManager
from opendream.diffusion.prompt_weights import has_weights, weighted_runs
from tests.diffusion_fixtures import run_op

DREAM = {"width": 64, "height": 64, "steps": 2, "seed": 5}


@pytest.mark.parametrize(
    ("prompt", "runs"),
    [
        ("a cat", [("a cat", 1.0)]),
        ("a (cat:1.3) on a [mat]", [("a ", 1.0), ("cat", 1.3), (" on a ", 1.0), ("mat", 1 / 1.1)]),
        ("((red)) fox", [("red", 1.1 * 1.1), (" fox", 1.0)]),
        ("(a (b:2):0.5) c", [("a ", 0.5), ("b c", 1.0)]),  # runs of one weight merge
        ("( x : 1.5 )", [(" x ", 1.5)]),
        ("style: anime (girl:.5)", [("style: anime ", 1.0), ("girl", 0.5)]),
        ("(a:b)", [("a:b", 1.1)]),
        (r"photo \(35mm\) \[raw\]", [("photo (35mm) [raw]", 1.0)]),
    ],
)
def test_the_syntax_a1111_users_write(prompt: str, runs: list[tuple[str, float]]) -> None:
    got = weighted_runs(prompt)
    assert [text for text, _ in got] == [text for text, _ in runs]
    assert [weight for _, weight in got] == pytest.approx([weight for _, weight in runs])


def test_escaped_brackets_are_no_weights() -> None:
    assert not has_weights(r"photo \(35mm\)") and has_weights("photo (35mm)") and has_weights("[x]")


@pytest.mark.parametrize(
    ("prompt", "words"),
    [
        ("(unclosed", "near character 1"),
        ("closed)", "near character 7"),
        ("a [b", "near character 3"),
        ("(x:11)", r"11 is not in \[0, 10\]"),
    ],
)
def test_bad_weights_are_refused_naming_the_place(prompt: str, words: str) -> None:
    with pytest.raises(InvalidParams, match=words) as raised:
        weighted_runs(prompt, "negative_prompt")
    assert raised.value.errors[0]["param"] == "negative_prompt"


@pytest.fixture
def manager(tiny_settings: Any, pinned_threads: int) -> ModelManager:
    return ModelManager(tiny_settings, device="cpu", dtype="float32")


def dream(manager: ModelManager, settings: Any, **params: Any) -> np.ndarray:
    (layer,) = run_op("dream", {**DREAM, **params}, {}, manager, settings)
    return np.asarray(layer.image)


def test_weights_change_the_picture_and_weight_one_changes_nothing(manager, tiny_settings) -> None:
    plain = dream(manager, tiny_settings, prompt="a red lighthouse")
    assert np.array_equal(dream(manager, tiny_settings, prompt="a (red:1.0) lighthouse"), plain)
    stronger = dream(manager, tiny_settings, prompt="a (red:1.6) lighthouse")
    weaker = dream(manager, tiny_settings, prompt="a [red] lighthouse")
    assert not np.array_equal(stronger, plain) and not np.array_equal(weaker, plain)
    assert not np.array_equal(stronger, weaker)
    assert np.array_equal(dream(manager, tiny_settings, prompt="a (red:1.6) lighthouse"), stronger), (
        "replayable"
    )
    negative = dream(manager, tiny_settings, prompt="a red lighthouse", negative_prompt="(fog:1.5)")
    assert not np.array_equal(negative, plain)


def test_img2img_and_inpaint_take_weights_too(manager, tiny_settings) -> None:
    (made,) = run_op("dream", {**DREAM, "prompt": "sea"}, {}, manager, tiny_settings)
    base = ImageLayer(image=made.image)
    for op, inputs in [
        ("img2img", {"image_layer": base}),
        ("mask_and_inpaint", {"image_layer": base, "mask_layer": _half_mask()}),
    ]:
        params = {"steps": 2, "seed": 1}
        (plain,) = run_op(op, {**params, "prompt": "a boat"}, inputs, manager, tiny_settings)
        (weighted,) = run_op(op, {**params, "prompt": "a (boat:1.5)"}, inputs, manager, tiny_settings)
        assert not np.array_equal(np.asarray(plain.image), np.asarray(weighted.image)), op


def _half_mask() -> Any:
    from PIL import Image

    from opendream import MaskLayer

    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    return MaskLayer(image=mask)


def test_sdxl_weighs_both_text_encoders(manager, tiny_settings, family_dirs: dict[str, Path]) -> None:
    model = str(family_dirs["sdxl"])
    plain = dream(manager, tiny_settings, prompt="a red lighthouse", model=model)
    assert np.array_equal(dream(manager, tiny_settings, prompt="a (red:1) lighthouse", model=model), plain)
    assert not np.array_equal(
        dream(manager, tiny_settings, prompt="a (red:1.8) lighthouse", model=model), plain
    )


def test_families_compel_cannot_weigh_refuse_weights(
    manager, tiny_settings, family_dirs: dict[str, Path]
) -> None:
    model = str(family_dirs["flux1"])
    with pytest.raises(InvalidParams, match=r"SD 1.x, SD 2.x and SDXL models, not Flux\.1") as raised:
        dream(manager, tiny_settings, prompt="a (red:1.2) lighthouse", model=model)
    assert raised.value.errors[0]["param"] == "prompt"
    # Escaped, the brackets are words; the model stays loaded and usable.
    assert dream(manager, tiny_settings, prompt=r"a lighthouse \(red\)", model=model).shape == (64, 64, 3)


def test_a_bracket_left_open_fails_the_layer_before_the_denoising(manager, tiny_settings) -> None:
    with pytest.raises(InvalidParams, match="near character 3"):
        dream(manager, tiny_settings, prompt="a (red lighthouse")
