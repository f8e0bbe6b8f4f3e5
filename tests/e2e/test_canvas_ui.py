"""What a new user tripped over on the canvas side of the web UI (issue 11, part 4), in a real
browser: the opacity slider, mask painting keys and layout, URL routing, job progress on the
canvas, and picking Segment Anything's points and box on the canvas."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.e2e.ui import RUN_TIMEOUT, eventually, row, shown_pixel, wait_ready

pytestmark = pytest.mark.e2e

SIZE = 64


def new_project(page: Page, server: str, name: str) -> str:
    """Create a SIZE x SIZE project from the project list; its id."""
    page.get_by_label("Name").fill(name)
    page.get_by_label("Custom").check()
    page.get_by_label("Width").fill(str(SIZE))
    page.get_by_label("Height").fill(str(SIZE))
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("button", name=name)).to_be_visible()
    projects = page.request.get(f"{server}/api/projects").json()
    return next(p["id"] for p in projects if p["name"] == name)


def add_picture(page: Page, tmp_path: Path, layer_id: str) -> None:
    """Add a mid-grey SIZE x SIZE picture through the Image op; wait until it is ready."""
    path = tmp_path / "grey.png"
    Image.new("RGB", (SIZE, SIZE), (128, 128, 128)).save(path)
    with page.expect_file_chooser() as chooser:
        page.get_by_role("navigation", name="Operations").get_by_role(
            "button", name="Image", exact=True
        ).click()
    chooser.value.set_files(str(path))
    wait_ready(page, layer_id)


def layer_json(page: Page, server: str, project: str, layer_id: str) -> dict:
    layers = page.request.get(f"{server}/api/projects/{project}").json()["layers"]
    return next(x for x in layers if x["id"] == layer_id)


def image_rect(page: Page) -> dict[str, float]:
    """Where the project's canvas is drawn on the page: the extent of the non-transparent pixels
    of the first Konva canvas (the checkerboard's) along its middle row and column (outside the
    image it is transparent)."""
    return page.evaluate(
        """() => {
            const canvas = document.querySelector('.canvas-container canvas')
            const ctx = canvas.getContext('2d')
            const ratio = canvas.width / canvas.getBoundingClientRect().width
            const row = ctx.getImageData(0, Math.floor(canvas.height / 2), canvas.width, 1).data
            const col = ctx.getImageData(Math.floor(canvas.width / 2), 0, 1, canvas.height).data
            const extent = (data, n) => {
                let first = -1, last = -1
                for (let i = 0; i < n; i++) if (data[4 * i + 3] > 0) { if (first < 0) first = i; last = i }
                return [first, last + 1]
            }
            const [x0, x1] = extent(row, canvas.width)
            const [y0, y1] = extent(col, canvas.height)
            const box = canvas.getBoundingClientRect()
            return {x: box.x + x0 / ratio, y: box.y + y0 / ratio, width: (x1 - x0) / ratio, height: (y1 - y0) / ratio}
        }"""
    )


def at(rect: dict[str, float], x: float, y: float) -> tuple[float, float]:
    """The page point of image pixel coordinates (x, y)."""
    scale = rect["width"] / SIZE
    return rect["x"] + x * scale, rect["y"] + y * scale


def test_opacity_slider_changes_opacity_without_dragging_the_row(
    page: Page, server: str, tmp_path: Path
) -> None:
    project = new_project(page, server, "Opacity")
    add_picture(page, tmp_path, "L1")
    page.evaluate(
        "() => { window.dragStarts = 0; document.addEventListener('dragstart', () => window.dragStarts++, true) }"
    )
    slider = row(page, "L1").get_by_label(re.compile("^Opacity of"))
    box = slider.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] - 4, y)  # the thumb, at 100%
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, y, steps=8)
    assert page.evaluate("window.dragStarts") == 0, "dragging the opacity slider started a drag of the row"
    expect(row(page, "L1")).not_to_have_class(re.compile("dragging"))
    page.mouse.up()
    # The release saves the new opacity at once (not at some later blur).
    deadline = time.monotonic() + 5
    while layer_json(page, server, project, "L1")["opacity"] == 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert 0.3 < layer_json(page, server, project, "L1")["opacity"] < 0.7
    assert page.evaluate("window.dragStarts") == 0


def test_paint_mode_has_its_own_keys(page: Page, server: str, tmp_path: Path, artifacts: Path) -> None:
    project = new_project(page, server, "Keys")
    add_picture(page, tmp_path, "L1")
    page.get_by_role("button", name="Paint mask").click()
    toolbar = page.get_by_role("toolbar", name="Mask painting")
    size = toolbar.get_by_label("Size")
    expect(size).to_have_value("40")
    page.mouse.move(5, 5)

    # [ and ] change the brush size, E toggles the eraser.
    page.keyboard.press("]")
    bigger = int(size.input_value())
    assert bigger > 40
    page.keyboard.press("[")
    page.keyboard.press("[")
    assert int(size.input_value()) < 40
    size.fill("8")
    page.mouse.move(5, 5)
    page.keyboard.press("e")
    expect(toolbar.get_by_role("button", name="Eraser")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("E")
    expect(toolbar.get_by_role("button", name="Brush")).to_have_attribute("aria-pressed", "true")

    # Two strokes; Ctrl+Z takes back the second only, the project is untouched; redo brings it back.
    rect = image_rect(page)
    top, bottom = at(rect, 32, 16), at(rect, 32, 48)
    clean = shown_pixel(page, *bottom)
    for x, y in (top, bottom):
        page.mouse.move(x - 40, y)
        page.mouse.down()
        page.mouse.move(x + 40, y, steps=4)
        page.mouse.up()
    page.mouse.move(5, 5)
    painted = shown_pixel(page, *bottom)
    assert painted != clean
    page.keyboard.press("Control+z")
    expect(row(page, "L1")).to_be_visible()
    # Polled: the view redraws on its next frame, later on a loaded machine.
    eventually(lambda: shown_pixel(page, *bottom), clean)  # Ctrl+Z took back the last stroke
    assert shown_pixel(page, *top) != clean, "Ctrl+Z took back more than the last stroke"
    assert layer_json(page, server, project, "L1")["status"] == "ready"
    page.keyboard.press("Control+Shift+z")
    eventually(lambda: shown_pixel(page, *bottom), painted)
    page.keyboard.press("Control+z")
    eventually(lambda: shown_pixel(page, *bottom), clean)
    page.keyboard.press("Control+y")
    eventually(lambda: shown_pixel(page, *bottom), painted)

    # The cursor is the brush outline, its size in image pixels (so it scales with the zoom).
    page.mouse.move(*at(rect, 20, 20))
    outline = page.evaluate(
        """() => {
            const node = window.Konva.stages[0].findOne('.brush-outline')
            return node && node.isVisible() ? {radius: node.radius(), scale: node.getAbsoluteScale().x} : null
        }"""
    )
    assert outline is not None, "no brush outline under the pointer"
    assert outline["radius"] == 4
    assert abs(outline["scale"] - rect["width"] / SIZE) < 0.05
    page.screenshot(path=str(artifacts / "canvas-paint-keys.png"))

    # Esc leaves paint mode without saving; the project still has its one layer.
    page.keyboard.press("Escape")
    expect(toolbar).to_have_count(0)
    expect(page.locator("li[data-layer]")).to_have_count(1)


def test_paint_toolbar_leaves_the_canvas_in_place(page: Page, server: str, artifacts: Path) -> None:
    new_project(page, server, "Layout")
    page.wait_for_function("() => document.querySelector('.canvas-container canvas') !== null")
    canvas = page.locator(".canvas-container canvas").first
    box = canvas.bounding_box()
    drawn = image_rect(page)
    page.get_by_role("button", name="Paint mask").click()
    toolbar = page.get_by_role("toolbar", name="Mask painting")
    expect(toolbar).to_be_visible()
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts / "canvas-paint-layout.png"))
    assert canvas.bounding_box() == box, "entering paint mode moved or resized the canvas"
    assert image_rect(page) == drawn, "entering paint mode moved the picture"
    bar = toolbar.bounding_box()
    assert bar is not None
    assert bar["y"] + bar["height"] <= drawn["y"], f"the toolbar {bar} covers the picture {drawn}"


def test_urls_route_projects(page: Page, server: str) -> None:
    project = new_project(page, server, "Routed")
    # The top bar's title, not the project list's button of the same name (the list shows
    # while a reloaded URL's project loads).
    opened = page.get_by_role("banner").get_by_role("button", name="Routed")
    expect(page).to_have_url(f"{server}/projects/{project}")
    page.reload()
    expect(opened).to_be_visible()
    expect(page).to_have_url(f"{server}/projects/{project}")
    page.go_back()
    expect(page).to_have_url(f"{server}/")
    expect(page.get_by_role("heading", name="New project")).to_be_visible()
    page.go_forward()
    expect(opened).to_be_visible()

    page.goto(f"{server}/projects/{project}")
    expect(opened).to_be_visible()

    page.goto(f"{server}/projects/no-such-project")
    expect(page.get_by_role("heading", name="No such project")).to_be_visible()
    expect(page.get_by_text("no-such-project")).to_be_visible()
    page.get_by_role("link", name="Back to the projects").click()
    expect(page).to_have_url(f"{server}/")
    expect(page.get_by_role("heading", name="New project")).to_be_visible()


def test_progress_shows_steps_eta_and_a_preview_on_the_canvas(page: Page, server: str) -> None:
    new_project(page, server, "Progress")
    page.get_by_role("navigation", name="Operations").get_by_role("button", name="Dream", exact=True).click()
    page.get_by_label("Prompt", exact=True).fill("a lighthouse")
    page.get_by_label("Steps", exact=True).fill("40")
    page.get_by_role("button", name="Add layer").click()
    status = row(page, "L1").locator(".layer-progress")
    expect(status).to_have_text(re.compile(r"step \d+/40"), timeout=RUN_TIMEOUT)
    expect(status).to_contain_text(re.compile(r"\d+ s left|< 1 s left"))
    preview = page.wait_for_function(
        """() => {
            const node = window.Konva?.stages[0]?.findOne('.job-preview')
            return node && node.isVisible() && node.image() ? {width: node.width(), height: node.height()} : null
        }""",
        timeout=RUN_TIMEOUT,
    ).json_value()
    assert preview == {"width": SIZE, "height": SIZE}
    wait_ready(page, "L1")
    assert page.evaluate("() => window.Konva.stages[0].findOne('.job-preview') ?? null") is None


def test_sam_points_and_box_are_picked_on_the_canvas(page: Page, server: str, tmp_path: Path) -> None:
    new_project(page, server, "Pick")
    add_picture(page, tmp_path, "L1")
    page.get_by_role("navigation", name="Operations").get_by_role("button", name="Segment Anything").click()
    page.get_by_label("Mode", exact=True).select_option("prompt")
    points, box = page.get_by_label("Points", exact=True), page.get_by_label("Box", exact=True)
    page.get_by_role("button", name="Pick Points on the canvas").click()
    rect = image_rect(page)
    page.mouse.click(*at(rect, 16.5, 20.5))
    page.keyboard.down("Shift")
    page.mouse.click(*at(rect, 40.5, 44.5))
    page.keyboard.up("Shift")
    expect(points).to_have_value("16,20; 40,44,0")
    page.mouse.move(*at(rect, 8, 12))
    page.mouse.down()
    page.mouse.move(*at(rect, 56, 50), steps=5)
    page.mouse.up()
    expect(box).to_have_value("8,12,56,50")
    expect(points).to_have_value("16,20; 40,44,0")
    markers = page.evaluate("() => window.Konva.stages[0].find('.pick-point').length")
    assert markers == 2
    page.get_by_role("button", name="Add layer").click()
    wait_ready(page, "L2")
