"""Few-step generation: the LCM, TCD and trailing-spaced schedulers run on the tiny models, the
dream form offers presets for them (a recipe records the values), and a preset that does not
fit its op is refused when the op is defined."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import opendream
from opendream.core.errors import OpDefinitionError
from opendream.core.registry import REGISTRY, OpRegistry
from opendream.fields import FEW_STEP_PRESETS, Steps
from tests.diffusion_fixtures import run_op


@pytest.mark.parametrize("scheduler", ["lcm", "tcd", "euler_trailing"])
def test_few_step_schedulers_run_in_four_steps(scheduler: str, tiny_manager: Any, tiny_settings: Any) -> None:
    params = {"prompt": "a", "width": 64, "height": 64, "steps": 4, "guidance_scale": 1.0, "seed": 2}
    (first,) = run_op("dream", {**params, "scheduler": scheduler}, {}, tiny_manager, tiny_settings)
    (again,) = run_op("dream", {**params, "scheduler": scheduler}, {}, tiny_manager, tiny_settings)
    (euler,) = run_op("dream", {**params, "scheduler": "euler"}, {}, tiny_manager, tiny_settings)
    assert np.array_equal(np.asarray(first.image), np.asarray(again.image))
    assert not np.array_equal(np.asarray(first.image), np.asarray(euler.image)), "another sampler"


def test_dream_offers_the_few_step_presets_and_each_is_valid() -> None:
    spec = REGISTRY.get("dream")
    assert spec.schema()["x-opendream-presets"] == FEW_STEP_PRESETS
    for preset in FEW_STEP_PRESETS:
        params = spec.validate_params({"prompt": "a", **preset["values"]})
        assert {k: params[k] for k in preset["values"]} == preset["values"], "the recipe records the values"


@pytest.mark.parametrize(
    ("preset", "message"),
    [
        ({"title": "x", "values": {"sampler": "lcm"}}, r"preset 'x' sets \['sampler'\], not params"),
        ({"title": "x", "values": {"steps": 0}}, r"preset 'x' gives steps 0"),
        ({"values": {"steps": 4}}, r"a preset is"),
    ],
)
def test_a_preset_that_does_not_fit_its_op_is_refused(preset: dict, message: str) -> None:
    with pytest.raises(OpDefinitionError, match=message):

        @opendream.op(registry=OpRegistry(), presets=[preset])
        def sketch(steps: Steps = 20) -> opendream.ImageLayer:
            raise AssertionError("never runs")
