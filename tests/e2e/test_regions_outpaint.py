"""Generation regions and outpainting (issue 16 §3, §4) in a real browser on a real server with
tiny models: the Outpaint… dialog grows the canvas and fills the new area in one undo step, and
a region drawn with the mouse takes an op's result back over it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.e2e.test_placement import at_100_percent, create_project, drag, project_json, upload
from tests.e2e.ui import eventually, row, wait_ready

pytestmark = pytest.mark.e2e


def picture(size: tuple[int, int]) -> Image.Image:
    """A picture that differs from pixel to pixel everywhere (so a fill or a shift shows) and
    compresses well (export.png embeds it in its workflow)."""
    y, x = np.mgrid[: size[1], : size[0]]
    return Image.fromarray(
        np.stack([x * 255 // size[0], y * 255 // size[1], (x * 7 + y * 13) % 256], -1).astype(np.uint8)
    )


def export(page: Page, server: str, project: str) -> np.ndarray:
    response = page.request.get(f"{server}/api/projects/{project}/export.png")
    assert response.ok, response.text()
    return np.asarray(Image.open(io.BytesIO(response.body())).convert("RGBA"))


def test_outpaint_through_the_dialog(page: Page, server: str) -> None:
    project = create_project(page, server, "Outpaint", 512, 512)
    base = picture((512, 512))
    upload(page, server, project, base, "beach")

    page.get_by_role("button", name="Outpaint…").click()
    dialog = page.get_by_role("dialog", name="Outpaint")
    dialog.get_by_label("Pixels to add").fill("256")
    dialog.get_by_role("button", name="Right", exact=True).click()
    expect(dialog.get_by_label("Width")).to_have_value("768")
    expect(dialog.get_by_label("Anchor left", exact=True)).to_be_checked()
    dialog.get_by_label("Prompt", exact=True).fill("more beach")
    dialog.get_by_label("Steps", exact=True).fill("2")
    dialog.get_by_role("button", name="Outpaint", exact=True).click()
    expect(dialog).to_be_hidden()

    state = project_json(page, server, project)
    assert (state["width"], state["height"]) == (768, 512)
    added = [layer["id"] for layer in state["layers"][1:]]
    assert [layer["recipe"]["op"] for layer in state["layers"][1:]] == [
        "canvas_region",
        "flatten",
        "empty_area_mask",
        "mask_and_inpaint",
    ]
    wait_ready(page, added[-1])
    expect(row(page, added[-1])).to_have_attribute("aria-current", "true")

    pixels = export(page, server, project)
    assert pixels.shape == (512, 768, 4)
    # Left of the seam (grow 8 px into the picture, then a blur of 16 px whose tail reaches
    # about three times as far) the picture is untouched …
    assert np.array_equal(pixels[:, :448, :3], np.asarray(base)[:, :448])
    # … and the new area is filled, opaque.
    assert (pixels[:, 512:, 3] == 255).all()
    assert pixels[:, 512:, :3].std() > 0

    # One Ctrl+Z takes the whole outpaint back.
    page.keyboard.press("Control+z")
    eventually(
        lambda: (lambda p: (p["width"], p["height"], len(p["layers"])))(project_json(page, server, project)),
        (512, 512, 1),
    )


def test_img2img_in_a_region_drawn_with_the_mouse(page: Page, server: str) -> None:
    project = create_project(page, server, "Street", 512, 512)
    upload(page, server, project, picture((512, 512)), "street")
    before = export(page, server, project)

    origin = at_100_percent(page)
    page.keyboard.press("r")
    expect(page.get_by_role("button", name="Region", exact=True)).to_have_attribute("aria-pressed", "true")
    drag(page, (origin["x"] + 100.2, origin["y"] + 120.4), (origin["x"] + 356, origin["y"] + 312))
    size = page.evaluate("() => window.Konva.stages[0].findOne('.region-size').text()")
    assert size == "256 × 192"

    page.get_by_role("navigation", name="Operations").get_by_role("button", name="Image to image").click()
    form = page.get_by_role("form", name="Image to image")
    expect(form.get_by_label("Generate in region (256×192 at 100, 120)")).to_be_checked()
    expect(form).to_contain_text("The canvas under the region is the image")
    # The region is the image: no image picker.
    expect(form.get_by_label("Image Layer", exact=True)).to_have_count(0)
    form.get_by_label("Prompt", exact=True).fill("a red door")
    form.get_by_label("Steps", exact=True).fill("2")
    form.get_by_role("button", name="Add layer").click()
    expect(page.get_by_role("navigation", name="Operations")).to_be_visible()

    state = project_json(page, server, project)
    taken, made = state["layers"][1], state["layers"][2]
    assert (taken["recipe"]["op"], taken["visible"], made["recipe"]["op"]) == (
        "canvas_region",
        False,
        "img2img",
    )
    assert made["recipe"]["inputs"]["image_layer"] == taken["id"]
    params = taken["recipe"]["params"]
    assert (params["x"], params["y"], params["width"], params["height"]) == (100, 120, 256, 192)
    wait_ready(page, made["id"])
    placement = project_json(page, server, project)["layers"][2]["placement"]
    assert (placement["x"], placement["y"]) == (100, 120)
    assert placement["scale"] * params["output_width"] == pytest.approx(256, abs=0.05)

    after = export(page, server, project)
    changed = np.argwhere((after != before).any(axis=2))
    assert len(changed) > 0
    (top, left), (bottom, right) = changed.min(axis=0), changed.max(axis=0)
    # Only the region changed (its placed height may be off by a pixel or two: one scale for both sides).
    assert left >= 100 and top >= 120 and right < 356 and bottom < 312 + 3
    # The region layer and the layer made from it are one undo step.
    page.keyboard.press("Control+z")
    eventually(lambda: len(project_json(page, server, project)["layers"]), 1)

    # Esc clears the region; the form then offers no region.
    page.keyboard.press("Escape")
    assert page.evaluate("() => window.Konva.stages[0].find('.region-box').length") == 0
    page.get_by_role("navigation", name="Operations").get_by_role("button", name="Image to image").click()
    expect(page.get_by_role("form", name="Image to image").get_by_text("Generate in region")).to_have_count(0)


def test_inpaint_in_a_region_takes_the_mask_cut_to_it(page: Page, server: str) -> None:
    project = create_project(page, server, "Wall", 512, 512)
    upload(page, server, project, picture((512, 512)), "wall")
    mask = Image.new("L", (512, 512), 0)
    mask.paste(255, (150, 150, 250, 250))
    mask_id = upload(page, server, project, mask, "hole", kind="masks")
    before = export(page, server, project)

    origin = at_100_percent(page)
    page.keyboard.press("r")
    drag(page, (origin["x"] + 100.2, origin["y"] + 100.4), (origin["x"] + 356, origin["y"] + 356))
    page.get_by_role("navigation", name="Operations").get_by_role("button", name="Mask and inpaint").click()
    form = page.get_by_role("form", name="Mask and inpaint")
    expect(form.get_by_label("Generate in region (256×256 at 100, 100)")).to_be_checked()
    form.get_by_label("Mask Layer", exact=True).select_option(mask_id)
    form.get_by_label("Prompt", exact=True).fill("a window")
    form.get_by_label("Steps", exact=True).fill("2")
    form.get_by_role("button", name="Add layer").click()
    expect(page.get_by_role("navigation", name="Operations")).to_be_visible()

    layers = project_json(page, server, project)["layers"]
    taken, cut, made = layers[2], layers[3], layers[4]
    assert [x["recipe"]["op"] for x in (taken, cut, made)] == [
        "canvas_region",
        "mask_region",
        "mask_and_inpaint",
    ]
    assert made["recipe"]["inputs"] == {"image_layer": taken["id"], "mask_layer": cut["id"]}
    assert made["mask"] == cut["id"], "it shows through the cut mask only"
    assert cut["recipe"]["inputs"] == {"mask": mask_id}
    assert project_json(page, server, project)["undo_label"] == f"Add layer “{made['name']}” in region"
    wait_ready(page, made["id"])
    changed = np.argwhere((export(page, server, project) != before).any(axis=2))
    assert len(changed) > 0
    (top, left), (bottom, right) = changed.min(axis=0), changed.max(axis=0)
    # Only the masked square changed (a pixel of resampling at its edge); the rest of the region
    # keeps the canvas's own pixels.
    assert left >= 150 - 2 and top >= 150 - 2 and right < 250 + 2 and bottom < 250 + 2


def test_crop_to_a_region_drawn_with_the_mouse(page: Page, server: str) -> None:
    project = create_project(page, server, "Crop", 512, 512)
    base = picture((512, 512))
    layer = upload(page, server, project, base, "street")

    origin = at_100_percent(page)
    page.keyboard.press("r")
    drag(page, (origin["x"] + 100, origin["y"] + 120), (origin["x"] + 356, origin["y"] + 312))
    bar = page.get_by_role("toolbar", name="Region")
    expect(bar).to_contain_text("Region 256 × 192 at 100, 120")
    bar.get_by_role("button", name="Crop to region").click()

    expect(page.get_by_role("banner")).to_contain_text("256 × 192")
    state = project_json(page, server, project)
    assert (state["width"], state["height"]) == (256, 192)
    assert state["undo_label"] is not None
    placement = state["layers"][0]["placement"]
    assert (state["layers"][0]["id"], placement["x"], placement["y"], placement["scale"]) == (
        layer,
        -100,
        -120,
        1,
    )
    # The layer kept its pixels: the export is the rectangle of the picture.
    assert np.array_equal(export(page, server, project)[..., :3], np.asarray(base)[120:312, 100:356])
    # The region is cleared, and its bar with it.
    expect(bar).to_have_count(0)
    assert page.evaluate("() => window.Konva.stages[0].find('.region-box').length") == 0

    # One Ctrl+Z brings the canvas and the layer's place back.
    page.keyboard.press("Control+z")
    expect(page.get_by_role("banner")).to_contain_text("512 × 512")
    state = project_json(page, server, project)
    assert (state["width"], state["height"], state["layers"][0]["placement"]["x"]) == (512, 512, 0)
    assert state["layers"][0]["placement"]["y"] == 0


def test_dream_in_a_region_is_generated_at_the_models_size_and_placed_over_it(
    page: Page, server: str
) -> None:
    project = create_project(page, server, "Sky", 512, 512)
    upload(page, server, project, picture((512, 512)), "sky")
    before = export(page, server, project)
    origin = at_100_percent(page)
    page.keyboard.press("r")
    drag(page, (origin["x"] + 64, origin["y"] + 32), (origin["x"] + 448, origin["y"] + 224))
    page.get_by_role("navigation", name="Operations").get_by_role("button", name="Dream", exact=True).click()
    form = page.get_by_role("form", name="Dream")
    expect(form.get_by_label("Generate in region (384×192 at 64, 32)")).to_be_checked()
    form.get_by_label("Prompt", exact=True).fill("clouds")
    form.get_by_label("Steps", exact=True).fill("2")
    form.get_by_role("button", name="Add layer").click()
    expect(page.get_by_role("navigation", name="Operations")).to_be_visible()

    made = project_json(page, server, project)["layers"][-1]
    params, placement = made["recipe"]["params"], made["placement"]
    assert made["recipe"]["op"] == "dream" and len(project_json(page, server, project)["layers"]) == 2
    assert params["width"] * 192 == pytest.approx(params["height"] * 384, rel=0.05)  # the region's aspect
    assert (placement["x"], placement["y"]) == (64, 32)
    assert placement["scale"] * params["width"] == pytest.approx(384, abs=0.05)
    wait_ready(page, made["id"])
    changed = np.argwhere((export(page, server, project) != before).any(axis=2))
    (top, left), (bottom, right) = changed.min(axis=0), changed.max(axis=0)
    assert (left, top) == (64, 32) and right < 448 and bottom < 224 + 3
