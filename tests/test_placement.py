"""Layer placement, blend modes, layer masks and canvas size in the document (issue 16): each
change is one undo step that re-runs nothing, and bad values change nothing."""

from __future__ import annotations

import math

import pytest

from opendream.core.errors import InvalidParams
from opendream.core.placement import ANCHORS, Placement, anchor_offset
from opendream.core.project import Project
from tests.dag_ops import DAG_OPS

SOURCE, SHAPE, BLEND = (DAG_OPS.get(n) for n in ("source", "shape", "blend"))


@pytest.fixture
def project() -> Project:
    """100x80 canvas: L1 source, L2 shape (a mask), L3 = blend(L1, m=L2); all ready."""
    p = Project.new("placed", 100, 80)
    p.add_layer(SOURCE, {"seed": 1}, {})
    p.add_layer(SHAPE, {}, {})
    p.add_layer(BLEND, {}, {"a": "L1", "m": "L2"})
    for layer in p.layers:
        layer.status, layer.blob = "ready", layer.id.lower() * 32
    return p


def statuses(p: Project) -> list[str]:
    return [x.status for x in p.layers]


def test_a_move_is_one_undo_step_and_reruns_nothing(project: Project) -> None:
    revision = project.revision
    project.place_layer("L1", {"x": 30, "y": -12})
    assert project.layer("L1").placement == Placement(30, -12)
    assert project.revision == revision + 1
    assert statuses(project) == ["ready"] * 3, "placement is not part of any recipe"
    assert project.undo_label() == "Move “Source” on the canvas"
    project.place_layer("L1", {"scale": 2.5, "flip_x": True})
    assert project.layer("L1").placement == Placement(30, -12, 2.5, True, False)
    assert project.undo_label() == "Scale “Source” on the canvas"
    project.undo()
    assert project.layer("L1").placement == Placement(30, -12)
    project.undo()
    assert project.layer("L1").placement == Placement()
    project.redo()
    assert project.layer("L1").placement == Placement(30, -12)


def test_the_same_placement_again_is_no_change(project: Project) -> None:
    revision = project.revision
    project.place_layer("L1", {"x": 0, "scale": 1})
    assert project.revision == revision and project.undo_label() == "Add layer “Blend”"


@pytest.mark.parametrize(
    ("changes", "param", "words"),
    [
        ({"scale": 0}, "placement.scale", "[0.01, 16.0]"),
        ({"scale": -1.0}, "placement.scale", "[0.01, 16.0]"),
        ({"scale": math.nan}, "placement.scale", "nan"),
        ({"scale": math.inf}, "placement.scale", "inf"),
        ({"scale": 17}, "placement.scale", "17"),
        ({"scale": True}, "placement.scale", "True"),
        ({"x": 401}, "placement.x", "[-400, 400] (4 canvases)"),
        ({"y": -321}, "placement.y", "[-320, 320]"),
        ({"x": 1.5}, "placement.x", "whole number"),
        ({"x": "3"}, "placement.x", "'3'"),
        ({"flip_y": 1}, "placement.flip_y", "true or false"),
        ({"rotation": 90}, "placement", "unknown field(s) rotation"),
    ],
)
def test_bad_placements_are_refused_and_change_nothing(
    project: Project, changes: dict, param: str, words: str
) -> None:
    before = project.to_dict()
    with pytest.raises(InvalidParams) as raised:
        project.place_layer("L1", changes)
    assert raised.value.errors[0]["param"] == param
    assert words in raised.value.errors[0]["message"]
    assert project.to_dict() == before


def test_offsets_at_four_canvases_are_accepted(project: Project) -> None:
    project.place_layer("L1", {"x": -400, "y": 320})
    assert project.layer("L1").placement == Placement(-400, 320)


def test_blend_mode(project: Project) -> None:
    project.set_blend("L1", "multiply")
    assert project.layer("L1").blend == "multiply"
    assert project.undo_label() == "Blend “Source” with multiply"
    before = project.to_dict()
    with pytest.raises(InvalidParams, match="normal, multiply, screen, overlay, soft-light but is 'darken'"):
        project.set_blend("L1", "darken")
    assert project.to_dict() == before
    project.undo()
    assert project.layer("L1").blend == "normal"


def test_layer_mask_attach_detach_and_bad_links(project: Project) -> None:
    project.set_layer_mask("L1", "L2")
    assert project.layer("L1").mask == "L2"
    assert project.undo_label() == "Layer mask “Shape” on “Source”"
    assert statuses(project) == ["ready"] * 3
    before = project.to_dict()
    for layer_id, mask_id, words in [
        ("L1", "L9", "no layer 'L9'"),
        ("L1", "L3", "'L3' is an image layer; a layer mask has to be a mask layer"),
        ("L2", "L2", "an image layer takes a layer mask, not a mask layer"),
    ]:
        with pytest.raises(InvalidParams, match=words):
            project.set_layer_mask(layer_id, mask_id)
    assert project.to_dict() == before
    project.set_layer_mask("L1", None)
    assert project.layer("L1").mask is None
    assert project.undo_label() == "Remove the layer mask of “Source”"


def test_deleting_a_mask_layer_detaches_it_in_the_same_undo_step(project: Project) -> None:
    project.add_layer(SHAPE, {"seed": 2}, {})  # L4: a mask nothing is made from
    project.set_layer_mask("L1", "L4")
    project.delete_layer("L4")
    assert project.layer("L1").mask is None
    project.undo()
    assert project.layer("L1").mask == "L4"


@pytest.mark.parametrize(
    ("anchor", "offset"),
    [
        ("top-left", (0, 0)),
        ("top", (50, 0)),
        ("top-right", (100, 0)),
        ("left", (0, 20)),
        ("center", (50, 20)),
        ("right", (100, 20)),
        ("bottom-left", (0, 40)),
        ("bottom", (50, 40)),
        ("bottom-right", (100, 40)),
    ],
)
def test_canvas_resize_keeps_the_anchor_in_place(
    project: Project, anchor: str, offset: tuple[int, int]
) -> None:
    project.place_layer("L3", {"x": 5, "y": 6})
    project.resize_canvas(200, 120, anchor)
    assert (project.width, project.height) == (200, 120)
    assert project.layer("L1").placement == Placement(*offset)
    assert project.layer("L3").placement == Placement(5 + offset[0], 6 + offset[1])
    assert statuses(project) == ["ready"] * 3
    assert project.undo_label() == "Canvas size 200×120"
    project.undo()
    assert (project.width, project.height) == (100, 80)
    assert project.layer("L3").placement == Placement(5, 6)
    project.redo()
    assert (project.width, project.height) == (200, 120)


def test_every_anchor_is_listed() -> None:
    assert len(ANCHORS) == 9
    assert anchor_offset("center", (100, 80), (51, 41)) == (-25, -20)  # rounds toward the top-left


def test_crop_and_fit(project: Project) -> None:
    project.crop_canvas(10, -5, 40, 30)
    assert (project.width, project.height) == (40, 30)
    assert project.layer("L1").placement == Placement(-10, 5)
    assert project.undo_label() == "Crop canvas to 40×30"
    project.place_layer("L3", {"x": 7, "y": 9, "scale": 0.5})
    project.fit_canvas("L3", (64, 48))  # the layer's own pixels: 64x48, placed at half size
    assert (project.width, project.height) == (32, 24)
    assert project.layer("L3").placement == Placement(0, 0, 0.5)
    assert project.layer("L1").placement == Placement(-17, -4)
    project.undo()
    project.undo()
    assert (project.width, project.height) == (40, 30)
    project.undo()
    assert (project.width, project.height) == (100, 80)
    assert project.layer("L1").placement == Placement()


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda p: p.resize_canvas(0, 80), "width"),
        (lambda p: p.resize_canvas(100, 9000), "height"),
        (lambda p: p.resize_canvas(100, 80, "middle"), "anchor"),
        (lambda p: p.crop_canvas(0, 0, 4, 80), "width"),
        (lambda p: p.crop_canvas(401, 0, 40, 40), "crop.x"),
        (lambda p: p.crop_canvas(0, 2.5, 40, 40), "crop.y"),
    ],
)
def test_bad_canvas_changes_are_refused_and_change_nothing(project: Project, call, words: str) -> None:
    before = project.to_dict()
    with pytest.raises(InvalidParams) as raised:
        call(project)
    assert raised.value.errors[0]["param"] == words
    assert project.to_dict() == before


def test_placement_survives_a_save_and_load(project: Project) -> None:
    project.place_layer("L1", {"x": 3, "y": 4, "scale": 0.25, "flip_y": True})
    project.set_blend("L1", "screen")
    project.set_layer_mask("L1", "L2")
    project.resize_canvas(120, 90, "top-left")
    loaded = Project.from_dict(project.to_dict())
    assert loaded.to_dict() == project.to_dict()
    loaded.undo()
    assert (loaded.width, loaded.height) == (100, 80)


def test_a_history_stored_before_canvas_undo_keeps_the_size(project: Project) -> None:
    data = project.to_dict()
    for snapshot in data["undo"]:
        del snapshot["width"], snapshot["height"]
    old = Project.from_dict(data)
    old.resize_canvas(50, 50)
    old.undo()
    assert (old.width, old.height) == (100, 80)
    old.undo()  # a snapshot without a size: the size stays
    assert (old.width, old.height) == (100, 80)
