"""Generation regions (issue 16 §3): the size a region is generated at, the recipe of the canvas
under it, its replay recomposing the same pixels, and the mask of an empty area (§4)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from opendream.core.errors import InvalidParams
from opendream.core.project import Project
from opendream.core.recipe import asset_ref
from opendream.core.regions import Region, generation_size, region_recipe
from opendream.core.registry import REGISTRY
from opendream.engine.workspace import Workspace


@pytest.mark.parametrize(
    ("region", "native", "size"),
    [
        (Region(0, 0, 512, 512), 512, (512, 512)),
        (Region(0, 0, 256, 256), 1024, (1024, 1024)),  # SDXL: a small region is generated large
        (Region(0, 0, 768, 512), 512, (624, 416)),  # the same area as 512², the same aspect
        (Region(0, 0, 4000, 100), 512, (1920, 48)),  # at most 2048 a side, the aspect kept
    ],
)
def test_generation_size_follows_the_native_size(region: Region, native: int, size: tuple[int, int]) -> None:
    assert generation_size(region, native, 16) == size


@pytest.mark.parametrize("width", range(40, 1000, 37))
def test_the_placed_height_is_off_by_less_than_half_a_grid_step(width: int) -> None:
    region = Region(0, 0, width, 300)
    out_w, out_h = generation_size(region, 512, 16)
    assert out_w % 16 == 0 and out_h % 16 == 0
    assert abs(out_h * width / out_w - 300) <= 8 * width / out_w


def _picture(workspace: Workspace, project: Project, colour: tuple[int, ...], size: tuple[int, int]) -> str:
    blob = workspace.data.blobs.put_image(Image.new("RGBA", size, colour))
    return project.add_layer(REGISTRY.get("load_image"), {"asset": asset_ref(blob)}, {}).id


def _mask(workspace: Workspace, project: Project, size: tuple[int, int]) -> str:
    mask = Image.new("L", size, 0)
    mask.paste(255, (0, 0, size[0] // 2, size[1]))
    return project.add_layer(
        REGISTRY.get("paint_mask"), {"asset": asset_ref(workspace.data.blobs.put_image(mask))}, {}
    ).id


@pytest.fixture
def placed(workspace: Workspace) -> Project:
    """96x64: a grey background, a red square moved, scaled, flipped, screened and masked, a
    hidden blue layer, and a green layer outside the region used in the tests."""
    project = Project.new("regions", 96, 64)
    _picture(workspace, project, (90, 90, 90, 255), (96, 64))
    red = _picture(workspace, project, (220, 40, 40, 200), (20, 20))
    mask = _mask(workspace, project, (10, 10))
    project.place_layer(red, {"x": 30, "y": 10, "scale": 1.5, "flip_x": True})
    project.set_blend(red, "screen")
    project.set_layer_mask(red, mask)
    project.set_opacity(red, 0.8)
    blue = _picture(workspace, project, (0, 0, 255, 255), (96, 64))
    project.set_visible(blue, False)
    green = _picture(workspace, project, (0, 255, 0, 255), (8, 8))
    project.place_layer(green, {"x": 88, "y": 56})
    workspace.runner.run_pending(project)
    return project


def _sizes(workspace: Workspace, project: Project):
    return lambda layer_id: workspace.data.blobs.image_size(project.layer(layer_id).blob)


def test_the_recipe_lists_the_visible_layers_reaching_in_as_drawn(
    workspace: Workspace, placed: Project
) -> None:
    params, inputs = region_recipe(placed, Region(16, 0, 48, 48), (48, 48), _sizes(workspace, placed))
    assert inputs == {"layers": ["L1", "L2"], "masks": ["L3"]}  # not hidden L4, not L5 outside
    assert params["drawn"][1] == {
        "x": 30,
        "y": 10,
        "scale": 1.5,
        "flip_x": True,
        "flip_y": False,
        "opacity": 0.8,
        "blend": "screen",
        "mask": 0,
    }
    assert (params["x"], params["y"], params["output_width"]) == (16, 0, 48)


def test_a_region_recomposes_the_canvas_under_it(workspace: Workspace, placed: Project) -> None:
    region = Region(16, 4, 64, 48)
    params, inputs = region_recipe(placed, region, (64, 48), _sizes(workspace, placed))
    layer = placed.add_layer(REGISTRY.get("canvas_region"), params, inputs, visible=False)
    workspace.runner.run_pending(placed)
    assert layer.status == "ready", layer.run.error
    taken = np.asarray(workspace.data.blobs.get_image(layer.blob))
    canvas = np.asarray(workspace.composite(placed).crop((16, 4, 80, 52)))
    assert np.array_equal(taken, canvas)
    # Moving a layer afterwards changes the canvas, not the recorded region: a replay is exact.
    placed.place_layer("L2", {"x": 0})
    assert np.array_equal(np.asarray(workspace.data.blobs.get_image(layer.blob)), taken)
    # A change to a layer it is made from re-runs it, like any descendant.
    assert "L6" in placed.edit_recipe(
        "L3", REGISTRY.get("paint_mask"), {"asset": placed.layer("L1").recipe.params["asset"]}
    )


def test_a_region_at_another_size_is_scaled(workspace: Workspace, placed: Project) -> None:
    params, inputs = region_recipe(placed, Region(0, 0, 96, 64), (48, 32), _sizes(workspace, placed))
    layer = placed.add_layer(REGISTRY.get("canvas_region"), params, inputs)
    workspace.runner.run_pending(placed)
    assert workspace.data.blobs.get_image(layer.blob).size == (48, 32)


@pytest.mark.parametrize(
    ("region", "words"),
    [
        (Region(90, 0, 16, 16), "inside the 96x64 canvas"),
        (Region(-1, 0, 16, 16), "inside the 96x64 canvas"),
        (Region(0, 0, 4, 16), "at least 8x8"),
        (Region(88, 0, 8, 8), "no visible image layer reaches into it"),
    ],
)
def test_bad_regions_are_refused(workspace: Workspace, region: Region, words: str) -> None:
    project = Project.new("r", 96, 64)
    _picture(workspace, project, (1, 2, 3, 255), (40, 40))
    workspace.runner.run_pending(project)
    with pytest.raises(InvalidParams, match=words):
        region_recipe(project, region, (16, 16), _sizes(workspace, project))


def test_bad_drawn_records_are_refused() -> None:
    spec = REGISTRY.get("canvas_region")
    base = {"x": 0, "y": 0, "width": 8, "height": 8, "output_width": 8, "output_height": 8}
    for drawn, words in [
        ([{"scale": 0}], "scale"),
        ([{"blend": "darken"}], "blend"),
        ([{"mask": -2}], "mask"),
        ([], "drawn"),
    ]:
        with pytest.raises(InvalidParams, match=words):
            spec.validate_params({**base, "drawn": drawn})


def test_empty_area_mask_grows_and_feathers(workspace: Workspace) -> None:
    image = Image.new("RGBA", (40, 20), (10, 20, 30, 255))
    image.paste((0, 0, 0, 0), (30, 0, 40, 20))
    project = Project.new("m", 40, 20)
    source = project.add_layer(
        REGISTRY.get("load_image"), {"asset": asset_ref(workspace.data.blobs.put_image(image))}, {}
    )
    sharp = project.add_layer(
        REGISTRY.get("empty_area_mask"), {"grow": 3, "feather": 0}, {"image": source.id}
    )
    soft = project.add_layer(REGISTRY.get("empty_area_mask"), {"grow": 3, "feather": 4}, {"image": source.id})
    workspace.runner.run_pending(project)
    row = np.asarray(workspace.data.blobs.get_image(sharp.blob))[10]
    assert row[:27].max() == 0 and row[27:].min() == 255
    soft_row = np.asarray(workspace.data.blobs.get_image(soft.blob))[10].astype(int)
    assert soft_row[0] == 0 and 0 < soft_row[27] < 255
    # The empty area itself is wholly selected: only the picture's side of the edge is soft.
    assert soft_row[30:].min() == 255
    assert np.all(np.diff(soft_row) >= 0)
