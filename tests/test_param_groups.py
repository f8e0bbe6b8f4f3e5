"""Parameter groups: an op parameter typed with a pydantic model stands for its fields, which are
flat params in recipes and forms, and the op receives one instance of the model."""

from __future__ import annotations

from typing import Annotated

import pydantic
import pytest
from PIL import Image
from pydantic import BaseModel, ConfigDict, model_validator

import opendream
from opendream import Field, ImageLayer
from opendream.core.errors import InvalidParams, OpDefinitionError
from opendream.core.registry import OpRegistry
from opendream.fields import ControlNetSettings, Loras, Seed, Steps, TextToImage
from opendream.testing import run_op

Level = Annotated[int, Field(ge=0, le=255, description="A grey level")]


class Sampling(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: Steps = 20
    seed: Seed = 42
    loras: Loras = []


class Window(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    low: Level = 100
    high: Level = 200

    @model_validator(mode="after")
    def ordered(self) -> Window:
        if self.low > self.high:
            raise ValueError(f"`low` ({self.low}) has to be at most `high` ({self.high})")
        return self


def _grey_op(registry: OpRegistry, received: list) -> None:
    @opendream.op(registry=registry)
    def grey(
        image: ImageLayer,
        window: Window,
        label: str = "",
        sampling: Sampling = Sampling(steps=4),  # noqa: B008 (a frozen model)
    ) -> ImageLayer:
        """Clamp ``image``'s grey levels to the window."""
        received.append((window, label, sampling))
        picture = image.get_image().convert("L")
        return ImageLayer(image=picture.point(lambda v: min(max(v, window.low), window.high)))


def test_a_groups_fields_are_flat_params_in_place_and_the_op_gets_the_instance(ops: OpRegistry) -> None:
    received: list = []
    _grey_op(ops, received)
    spec = ops.get("grey")

    schema = spec.schema()
    assert list(schema["properties"]) == ["image", "low", "high", "label", "steps", "seed", "loras"]
    assert schema["properties"]["low"] == {
        "default": 100, "description": "A grey level", "maximum": 255, "minimum": 0, "title": "Low", "type": "integer",
    }  # fmt: skip
    assert schema["properties"]["loras"]["x-opendream-widget"] == "loras", "a field's hints are kept"
    assert schema["required"] == ["image"]
    assert "window" not in schema["properties"] and "sampling" not in schema["properties"]
    # A default instance of the group gives the form's defaults; the class gives the others.
    assert schema["properties"]["steps"]["default"] == 4 and schema["properties"]["seed"]["default"] == 42
    assert spec.validate_params({"high": 150}) == {
        "low": 100, "high": 150, "label": "", "steps": 4, "seed": 42, "loras": [],
    }  # fmt: skip

    picture = Image.linear_gradient("L").resize((64, 64))
    (out,) = run_op("grey", {"low": 50, "high": 150, "seed": 7}, {"image": picture}, registry=ops)
    levels = out.get_image().convert("L").getextrema()
    assert levels == (50, 150)
    window, label, sampling = received[-1]
    assert window == Window(low=50, high=150) and label == ""
    assert sampling == Sampling(steps=4, seed=7), "each group is made from its own fields"


def test_bad_values_of_a_group_are_refused_before_the_op_runs(ops: OpRegistry) -> None:
    received: list = []
    _grey_op(ops, received)
    spec = ops.get("grey")

    with pytest.raises(InvalidParams) as info:
        spec.validate_params({"low": 300, "steps": 0})
    assert {(e["param"], e["message"]) for e in info.value.errors} == {
        ("low", "has to be at most 255"),
        ("steps", "has to be at least 1"),
    }
    # The group's own validator (one field against another) runs with the rest.
    with pytest.raises(InvalidParams) as info:
        spec.validate_params({"low": 200, "high": 100})
    assert info.value.errors == [{"param": "params", "message": "`low` (200) has to be at most `high` (100)"}]
    with pytest.raises(InvalidParams, match="is not a parameter of this op"):
        spec.validate_params({"window": {"low": 1}})
    picture = Image.new("L", (64, 64), 128)
    with pytest.raises(InvalidParams, match="has to be at most"):
        run_op("grey", {"low": 200, "high": 100}, {"image": picture}, registry=ops)
    assert received == [], "nothing ran"


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        ("steps: int = 1, sampling: Sampling = Sampling()", "group 'sampling' declares ['steps'], which the op already has"),
        ("sampling: Sampling, again: Sampling", "group 'again' declares ['loras', 'seed', 'steps'], which the op already has"),
        ("window: Window, low: int = 0", "group 'window' declares ['low'], which the op already has"),
        ("sampling: Sampling = {'steps': 4}", "group 'sampling': the default has to be a Sampling instance"),
        ("odd: Odd", "group 'odd': field 'shape' has unsupported type"),
    ],
)  # fmt: skip
def test_a_bad_group_is_a_definition_error(registry: OpRegistry, signature: str, message: str) -> None:
    class Odd(BaseModel):
        shape: dict[str, int] = {}

    namespace = {"Sampling": Sampling, "Window": Window, "Odd": Odd, "ImageLayer": ImageLayer}
    exec(f"def bad({signature}) -> ImageLayer: ...", namespace)
    with pytest.raises(OpDefinitionError) as info:
        opendream.op(namespace["bad"], registry=registry)
    assert message in info.value.message
    assert "bad" not in registry


def test_the_shared_groups_check_a_direct_python_call_as_a_recipe_is_checked() -> None:
    assert TextToImage(prompt="a lighthouse").width == 512
    with pytest.raises(pydantic.ValidationError, match="multiple of 8"):
        TextToImage(prompt="a lighthouse", width=100)
    with pytest.raises(pydantic.ValidationError, match="prompt"):
        ControlNetSettings()
    with pytest.raises(pydantic.ValidationError, match="conditioning_scale"):
        ControlNetSettings(prompt="a cat", conditioning_scale=3)
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        TextToImage(prompt="a lighthouse").steps = 4  # type: ignore[misc]


def test_the_bundled_ops_that_share_a_group_keep_flat_recipes(ops: OpRegistry) -> None:
    """``dream`` and ``serverless`` share ``TextToImage``; the ControlNet ops ``ControlNetSettings``:
    their recipes and forms name the fields, as before the groups."""
    asked = set(TextToImage.model_fields)
    for name, group in (("dream", TextToImage), ("serverless", TextToImage),
                        ("controlnet_canny", ControlNetSettings), ("controlnet_openpose", ControlNetSettings)):  # fmt: skip
        spec = ops.get(name)
        fields = set(group.model_fields)
        assert fields <= set(spec.schema()["properties"]), name
        assert fields <= set(spec.validate_params({"prompt": "a cat"})), name
    assert asked == {"prompt", "negative_prompt", "width", "height", "steps", "guidance_scale", "seed"}
