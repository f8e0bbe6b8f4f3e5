"""Import of the original Opendream's workflow JSON."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

import opendream
from opendream import ImageLayer
from opendream.core.errors import OpNotFound, WorkflowError
from opendream.core.recipe import asset_ref, sha256_hex
from opendream.core.registry import OpRegistry
from opendream.core.workflow import import_any, parse_original_workflow
from tests.workflow_fixtures import WF_OPS, jpeg, picture, png

FIXTURES = Path(__file__).parent / "fixtures" / "workflows"


def uri(data: bytes, mime: str = "png") -> str:
    return f"data:image/{mime};base64," + base64.b64encode(data).decode()


def canonical(image: Image.Image) -> str:
    return sha256_hex(png(image))


@pytest.fixture
def original() -> dict:
    """What the original's `save()` wrote: entries in canvas order, layer refs by key, images."""
    mask, photo = picture(2, size=24, mode="L"), picture(1, size=24)
    return {
        "0": {"op": "mask_from_data_URI", "params": [uri(png(mask))], "options": {}, "image": uri(png(mask))},
        "1": {
            "op": "load_image_from_path",
            "params": ["/etc/passwd"],
            "options": {},
            "image": uri(jpeg(photo), "jpeg"),
        },
        "2": {
            "op": "dream",
            "params": ["a beach"],
            "options": {"seed": 7},
            "image": uri(png(picture(3, 24))),
        },
        "3": {
            "op": "inpaint",
            "params": ["0", "2", "a cat"],
            "options": {"seed": 3, "model_ckpt": "sd-inpaint", "device": "mps"},
            "image": uri(png(picture(4, 24))),
        },
        "4": {"op": "segment", "params": ["1"], "options": {}, "image": uri(png(picture(5, 24, "L")))},
        "5": {"op": "segment", "params": ["1"], "options": {}, "image": uri(png(picture(6, 24, "L")))},
        "6": {"op": "invert_mask", "params": ["5"], "options": {}, "image": uri(png(picture(7, 24, "L")))},
        "7": {
            "op": "remote",
            "params": [],
            "options": {"prompt": "a sky"},
            "image": uri(png(picture(8, 24))),
        },
    }


def test_original_workflow_imports_as_a_project(original: dict) -> None:
    imported = parse_original_workflow(json.dumps(original), WF_OPS)
    project = imported.project
    layers = {x.id: x for x in project.layers}
    assert [(x.id, x.recipe.op, x.kind) for x in project.layers] == [
        ("L1", "paint_mask", "mask"),
        ("L2", "load_image", "image"),
        ("L3", "dream", "image"),
        ("L4", "inpaint", "image"),
        ("L5", "segment", "mask"),
        ("L6", "segment", "mask"),
        ("L7", "invert_mask", "mask"),
        ("L8", "remote", "image"),
    ]
    mask_hash = canonical(picture(2, size=24, mode="L"))
    assert layers["L1"].recipe.params == {"asset": asset_ref(mask_hash)}
    photo_hash = sha256_hex(png(Image.open(io.BytesIO(jpeg(picture(1, size=24))))))
    assert layers["L2"].recipe.params == {"asset": asset_ref(photo_hash)}  # the recorded image, not the path
    assert layers["L3"].recipe.params == {
        "prompt": "a beach",
        "seed": 7,
        "steps": 20,
        "negative_prompt": "",
        "guidance_scale": 7.5,
        "width": 64,
        "height": 64,
    }
    cat = layers["L4"].recipe
    assert cat.inputs == {"mask_layer": "L1", "image_layer": "L3"}
    assert cat.params == {
        "prompt": "a cat",
        "seed": 3,
        "device": None,
        "model_ckpt": "sd-inpaint",
    }  # kwargs kept
    # The original stored each output of one run as its own entry: one group here.
    assert [(layers[i].group, layers[i].recipe.output_index) for i in ("L5", "L6")] == [("L5", 0), ("L5", 1)]
    assert layers["L6"].name == "Segment #2"
    assert layers["L7"].recipe.inputs == {"mask": "L6"}
    assert imported.expected["L3"] == canonical(picture(3, 24))
    assert all(imported.expected[x.id] in imported.assets for x in project.layers)
    assert (layers["L8"].status, layers["L8"].blob) == ("ready", imported.expected["L8"])  # remote: kept
    assert all(x.status == "pending" and x.blob is None for x in project.layers if x.id != "L8")
    assert (project.width, project.height) == (24, 24)
    assert project.next_id == 9


def test_import_any_detects_the_original_format(original: dict) -> None:
    assert len(import_any(json.dumps(original).encode(), WF_OPS).project.layers) == 8


def test_fixture_without_images() -> None:
    imported = import_any((FIXTURES / "original_refs.json").read_bytes(), WF_OPS)
    layers = imported.project.layers
    assert [x.recipe.op for x in layers] == ["dream", "paint_mask", "inpaint"]
    assert layers[2].recipe.inputs == {"mask_layer": "L2", "image_layer": "L1"}
    assert layers[2].recipe.params["num_steps"] == 10
    assert "device" not in layers[0].recipe.params
    assert imported.expected == {"L1": None, "L2": None, "L3": None}
    assert (imported.project.width, imported.project.height) == (512, 512)


def test_op_migration_from_the_original_is_applied() -> None:
    registry = WF_OPS.copy()
    calls = []

    def migrate(params: dict, from_version: str) -> dict:
        calls.append(from_version)
        params["steps"] = params.pop("num_steps", 20)
        return params

    @opendream.op(registry=registry, migrate=migrate)
    def dream2(prompt: str, model: str = "sd15", steps: int = 20, device: str = "cpu") -> ImageLayer:
        raise NotImplementedError

    doc = {"0": {"op": "dream2", "params": ["x", "sd21"], "options": {"num_steps": 5, "device": "mps"}}}
    recipe = parse_original_workflow(doc, registry).project.layers[0].recipe
    assert calls == ["original"]
    # The original recorded the machine's device ("mps"): the runtime's is used instead.
    assert recipe.params == {"prompt": "x", "model": "sd21", "steps": 5, "device": None}


BAD = [
    (
        "later ref",
        {"0": {"op": "invert_mask", "params": ["1"]}, "1": {"op": "paint_mask", "params": []}},
        "entry '0' \\(invert_mask\\): `mask` refers to '1', which is not an earlier entry",
    ),
    ("missing ref", {"0": {"op": "invert_mask", "params": ["x"]}}, "`mask` refers to 'x'"),
    (
        "kwarg",
        {"0": {"op": "dream", "params": ["x"], "options": {"bogus": 1}}},
        "entry '0' \\(dream\\): .*`bogus`: is not a parameter of this op",
    ),
    (
        "positional",
        {"0": {"op": "invert_mask", "params": ["a", "b"]}},
        "2 positional arguments but op 'invert_mask' takes 1",
    ),
    (
        "twice",
        {"0": {"op": "dream", "params": ["x"], "options": {"prompt": "y"}}},
        "`prompt` is given both by position and by name",
    ),
    (
        "path",
        {"0": {"op": "load_image_from_path", "params": ["/etc/passwd"]}},
        "has no recorded image \\(a path in a file is never read\\)",
    ),
    ("mask", {"0": {"op": "mask_from_data_URI", "params": [3]}}, "needs the mask as a data URI"),
    (
        "image",
        {"0": {"op": "dream", "params": ["x"], "image": "data:image/png;base64,aGVsbG8="}},
        "entry '0': image: not a PNG, JPEG or WebP image",
    ),
    (
        "shape",
        {"0": {"op": "dream", "params": "x"}},
        "not an original Opendream workflow: a problem at `0/params`",
    ),
    ("empty", {}, "not an original Opendream workflow"),
    (
        "kind",
        {"0": {"op": "dream", "params": ["x"]}, "1": {"op": "invert_mask", "params": ["0"]}},
        "needs a mask layer but 'L1' is a image layer",
    ),
]


@pytest.mark.parametrize(("doc", "message"), [x[1:] for x in BAD], ids=[x[0] for x in BAD])
def test_bad_original_workflows_are_refused(doc: dict, message: str) -> None:
    with pytest.raises(WorkflowError, match=message):
        parse_original_workflow(doc, WF_OPS)


def test_unknown_original_ops_are_all_named() -> None:
    doc = {
        "0": {"op": "dalle", "params": ["x"]},
        "1": {"op": "sam", "params": ["0"]},
        "2": {"op": "dream", "params": ["x"]},
    }
    with pytest.raises(OpNotFound) as caught:
        parse_original_workflow(doc, WF_OPS)
    assert caught.value.names == ["dalle", "sam"]


def test_mask_from_data_uri_needs_paint_mask() -> None:
    registry = OpRegistry(ops={k: v for k, v in WF_OPS.ops.items() if k != "paint_mask"})
    doc = {"0": {"op": "mask_from_data_URI", "params": [uri(png(picture(1, mode="L")))]}}
    with pytest.raises(OpNotFound, match="paint_mask"):
        parse_original_workflow(doc, registry)


def test_masks_are_recognised_by_use() -> None:
    registry = WF_OPS.copy()

    @opendream.define_op(registry=registry)
    def sam(image_layer: ImageLayer, prompt=None):  # the original's: no return annotation
        raise NotImplementedError

    doc = {
        "0": {"op": "dream", "params": ["x"]},
        "1": {"op": "sam", "params": ["0"], "options": {}},
        "2": {"op": "invert_mask", "params": ["1"]},
    }
    layers = parse_original_workflow(doc, registry).project.layers
    assert [x.kind for x in layers] == ["image", "mask", "mask"]
