"""The op API: schemas from signatures, validation, definition errors, output normalisation."""

from __future__ import annotations

import enum
from typing import Annotated, Literal

import pytest
from PIL import Image

import opendream
from opendream import Context, Field, ImageLayer, Layer, MaskLayer
from opendream.core.errors import InvalidParams, OpDefinitionError, OpNotFound
from opendream.core.registry import REGISTRY, OpRegistry, normalise_outputs
from opendream.engine.loader import load_extension_file


class Style(enum.Enum):
    PHOTO = "photo"
    PAINTING = "painting"


def test_schema_covers_every_allowed_type(registry: OpRegistry) -> None:
    @opendream.op(registry=registry, version="2", category="control", title="Everything")
    def everything(
        image: ImageLayer,
        mask: MaskLayer,
        refs: list[ImageLayer],
        anything: Layer | None,
        prompt: Annotated[str, Field(description="What to draw", json_schema_extra={"widget": "textarea"})],
        steps: Annotated[int, Field(ge=1, le=150)] = 20,
        strength: float = 0.5,
        tile: bool = False,
        scheduler: Literal["euler_a", "unipc"] = "unipc",
        style: Style = Style.PHOTO,
        negative: str | None = None,
        ctx: Context = None,
    ) -> Layer:
        """Draw everything.

        More text that is not the summary."""
        raise AssertionError("not called")

    spec = registry.get("everything")
    schema = spec.schema()
    props = schema["properties"]
    assert spec.version == "2" and spec.category == "control" and spec.title == "Everything"
    assert spec.description == "Draw everything."
    assert props["image"]["x-opendream-layer"] == "image"
    assert props["mask"]["x-opendream-layer"] == "mask"
    assert props["refs"] == {
        "type": "array",
        "items": {"type": "string"},
        "maxItems": 64,
        "x-opendream-layer": "image",
        "title": "Refs",
    }
    assert props["anything"]["x-opendream-layer"] == "any"
    # The bare `widget` key extensions wrote is namespaced as the schema's other hints are.
    assert props["prompt"]["x-opendream-widget"] == "textarea" and "widget" not in props["prompt"]
    assert props["prompt"]["description"] == "What to draw"
    assert props["steps"] == {
        "default": 20,
        "maximum": 150,
        "minimum": 1,
        "title": "Steps",
        "type": "integer",
    }
    assert props["strength"]["type"] == "number" and props["tile"]["type"] == "boolean"
    assert props["scheduler"]["enum"] == ["euler_a", "unipc"]
    assert "ctx" not in props
    assert schema["required"] == ["image", "mask", "refs", "prompt"]
    assert schema["additionalProperties"] is False
    assert list(props) == [
        "image",
        "mask",
        "refs",
        "anything",
        "prompt",
        "steps",
        "strength",
        "tile",
        "scheduler",
        "style",
        "negative",
    ]
    assert spec.validate_params({"prompt": "a cat"}) == {
        "prompt": "a cat",
        "steps": 20,
        "strength": 0.5,
        "tile": False,
        "scheduler": "unipc",
        "style": "photo",
        "negative": None,
    }


def test_validation_errors_name_each_parameter_and_rule(registry: OpRegistry) -> None:
    @opendream.op(registry=registry)
    def draw(
        prompt: str,
        steps: Annotated[int, Field(ge=1, le=150)] = 20,
        mode: Literal["a", "b"] = "a",
        width: Annotated[int, Field(le=2048, multiple_of=8)] = 512,
        strength: Annotated[float, Field(gt=0)] = 0.5,
    ) -> Layer:
        raise AssertionError

    spec = registry.get("draw")
    with pytest.raises(InvalidParams) as info:
        spec.validate_params({"steps": 0, "mode": "c", "bogus": 1, "width": 100, "strength": "x"})
    params = {e["param"]: e["message"] for e in info.value.errors}
    # One wording for every rule, the one the web form uses too.
    assert params == {
        "prompt": "is required",
        "steps": "has to be at least 1",
        "mode": "has to be one of 'a' or 'b'",
        "bogus": "is not a parameter of this op",
        "width": "has to be a multiple of 8",
        "strength": "has to be a number",
    }
    assert "`steps`: has to be at least 1" in info.value.message
    with pytest.raises(InvalidParams) as info:
        spec.validate_params({"prompt": "a", "width": 4096, "steps": 1.5})
    assert {e["param"]: e["message"] for e in info.value.errors} == {
        "width": "has to be at most 2048",
        "steps": "has to be a whole number",
    }


def test_inputs_are_validated_by_shape(registry: OpRegistry) -> None:
    @opendream.op(registry=registry)
    def combine(image: ImageLayer, masks: list[MaskLayer], extra: ImageLayer | None = None) -> Layer:
        raise AssertionError

    spec = registry.get("combine")
    assert spec.validate_inputs({"image": "L1", "masks": ["L2", "L3"]}) == {
        "image": "L1",
        "masks": ["L2", "L3"],
    }
    with pytest.raises(InvalidParams) as info:
        spec.validate_inputs({"masks": "L2", "nope": "L1"})
    params = {e["param"] for e in info.value.errors}
    assert params == {"image", "masks", "nope"}
    with pytest.raises(InvalidParams, match="layer parameter; pass it in `inputs`"):
        spec.validate_params({"image": "L1"})


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def bad(x: dict) -> None: ...", "parameter 'x' has unsupported type"),
        ("def bad(x) -> None: ...", "parameter 'x' has no type hint and no default"),
        ("def bad(x: list[int]) -> None: ...", "parameter 'x' has unsupported type"),
        ("def bad(x: 'Missing') -> None: ...", "cannot resolve type hints"),
    ],
)
def test_bad_definitions_report_file_and_line(
    registry: OpRegistry, tmp_path, source: str, message: str
) -> None:
    path = tmp_path / "ext_bad.py"
    path.write_text("\n\n" + source + "\n")
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    with pytest.raises(OpDefinitionError) as info:
        opendream.op(namespace["bad"], registry=registry)
    assert message in info.value.message
    assert info.value.file == str(path) and info.value.line == 3
    assert f"{path}:3: " in str(info.value)
    assert "bad" not in registry


def test_name_clash_between_files_is_refused(registry: OpRegistry, tmp_path) -> None:
    for name in ("one", "two"):
        path = tmp_path / f"{name}.py"
        path.write_text("def dream(prompt: str = 'x'): ...\n")
        namespace: dict = {}
        exec(compile(path.read_text(), str(path), "exec"), namespace)
        if name == "one":
            opendream.op(namespace["dream"], registry=registry)
        else:
            with pytest.raises(OpDefinitionError, match=r"already defined in .*one\.py"):
                opendream.op(namespace["dream"], registry=registry)
    assert registry.get("dream").file.endswith("one.py")


def test_unknown_op_lists_names(registry: OpRegistry) -> None:
    with pytest.raises(OpNotFound, match="'ghost'"):
        registry.get("ghost")
    assert OpNotFound(["b", "a", "b"]).names == ["a", "b"]


def test_define_op_infers_types_like_the_original(registry: OpRegistry) -> None:
    def canny(
        image_layer: ImageLayer, prompt, device: str = "mps", batch_size=1, scale=7.5, hint=None, **kwargs
    ):
        raise AssertionError

    opendream.define_op(canny, registry=registry)
    spec = registry.get("canny")
    props = spec.schema()["properties"]
    assert props["prompt"]["type"] == "string"
    assert props["batch_size"]["type"] == "integer" and props["scale"]["type"] == "number"
    assert spec.schema()["additionalProperties"] is True
    assert spec.validate_params({"prompt": "p", "selected": 0}) == {
        "prompt": "p",
        "device": None,
        "batch_size": 1,
        "scale": 7.5,
        "hint": None,
        "selected": 0,
    }
    assert canny.title == "Canny"


def test_device_parameter_follows_the_runtime_unless_set(registry: OpRegistry) -> None:
    seen = []

    @opendream.op(registry=registry)
    def where(device: str = "mps") -> Layer:
        seen.append(device)
        return Layer(image=Image.new("RGB", (8, 8)))

    spec = registry.get("where")
    spec.call(spec.validate_params({}), {}, Context(device="cpu"))
    spec.call(spec.validate_params({"device": "cuda"}), {}, Context(device="cpu"))
    assert seen == ["cpu", "cuda"]


def test_outputs_are_normalised() -> None:
    rgb = Image.new("RGB", (8, 8), "red")
    grey = Image.new("L", (8, 8), 128)
    outputs = normalise_outputs(
        "op", [Layer(image=rgb), MaskLayer(image=rgb), grey, Image.new("P", (8, 8))], False
    )
    assert [(o.kind, o.image.mode) for o in outputs] == [
        ("image", "RGB"),
        ("mask", "L"),
        ("image", "RGB"),
        ("image", "RGB"),
    ]
    assert normalise_outputs("op", grey, returns_masks=True)[0].kind == "mask"
    with pytest.raises(TypeError, match="returned int"):
        normalise_outputs("op", 3, False)
    with pytest.raises(ValueError, match="returned no layers"):
        normalise_outputs("op", [], False)


def test_public_api_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = (
        "import opendream, opendream.opendream, opendream.layer, opendream.cli, sys\n"
        "import opendream.fields, opendream.images, opendream.pipelines, opendream.secrets\n"
        "assert 'torch' not in sys.modules and 'diffusers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_original_layer_methods() -> None:
    layer = Layer(image=Image.new("RGB", (67, 30), "blue"), metadata={"a": 1})
    assert layer.get_np_image().shape == (30, 67, 3)
    assert layer.resize_to_nearest_eighth().get_image().size == (64, 24)
    resized = ImageLayer(image=layer.get_image()).resize(16, 16)
    assert isinstance(resized, ImageLayer) and resized.get_image().size == (16, 16)
    assert layer.get_image().size == (67, 30)
    round_trip = Layer.b64_to_pil(Layer.pil_to_b64(layer.get_image()))
    assert round_trip.tobytes() == layer.get_image().tobytes()
    assert MaskLayer(image=Image.new("RGB", (4, 4))).get_image().mode == "L"
    with pytest.raises(TypeError, match="`image` has to be a PIL image"):
        Layer(image="nope")  # type: ignore[arg-type]


def test_omitted_sizes_default_to_the_canvas_when_they_fit(registry: OpRegistry) -> None:
    @opendream.op(registry=registry)
    def sized(
        width: Annotated[
            int, Field(ge=64, le=2048, multiple_of=8, json_schema_extra={"x-opendream-canvas": "width"})
        ] = 512,
        height: Annotated[
            int, Field(ge=64, le=2048, multiple_of=8, json_schema_extra={"x-opendream-canvas": "height"})
        ] = 512,
        steps: int = 20,
    ) -> ImageLayer:
        return ImageLayer(Image.new("RGB", (width, height)))

    spec = registry.get("sized")
    assert spec.validate_params({}, (256, 96)) == {"width": 256, "height": 96, "steps": 20}
    assert spec.validate_params({"width": 128}, (256, 96))["width"] == 128, "a given value wins"
    # Off the grid or out of bounds: the declared default, as the UI's form does.
    assert spec.validate_params({}, (100, 4096)) == {"width": 512, "height": 512, "steps": 20}
    assert spec.validate_params({}) == {"width": 512, "height": 512, "steps": 20}, "no canvas, no change"
    with pytest.raises(InvalidParams, match="width"):
        spec.validate_params({"width": 100}, (256, 96))


def test_a_copy_runs_the_same_ops_and_what_changes_in_one_stays_out_of_the_other() -> None:
    original = REGISTRY.copy()  # not the global one: this test changes both sides
    copy = original.copy()
    assert list(copy) == list(original) and copy.all_specs() == original.all_specs()

    @opendream.op(registry=copy)
    def only_in_the_copy() -> ImageLayer:
        return ImageLayer(Image.new("RGB", (8, 8)))

    assert "only_in_the_copy" in copy and "only_in_the_copy" not in original
    flatten = original.get("flatten")
    copy.unregister_file(flatten.file)
    assert "flatten" not in copy and original.get("flatten") is flatten


EXTENSION = """
import opendream
from opendream import ImageLayer


@opendream.op(category="test")
def loaded_here() -> ImageLayer:
    raise AssertionError
"""


def test_a_bare_op_registers_into_the_registry_loading_its_file(tmp_path) -> None:
    """Extension files say ``@opendream.op`` without a registry: loading one into a registry of
    its own (a test's, a second workspace's) keeps its ops out of the global one."""
    path = tmp_path / "ext_here.py"
    path.write_text(EXTENSION)
    mine = REGISTRY.copy()
    status = load_extension_file(path, mine)
    assert status.error is None and status.ops == ["loaded_here"]
    assert mine.get("loaded_here").extension == "ext_here" and mine.get("loaded_here").user
    assert "loaded_here" not in REGISTRY
    assert not [s for s in REGISTRY.all_specs() if s.file == str(path.resolve())]
