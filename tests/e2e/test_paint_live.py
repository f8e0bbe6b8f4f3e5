"""Colour painting and live mode (issue 16 §5, §6) in a real browser on a real server with tiny
models: a new paint layer painted with a chosen colour, erased, a colour picked from the canvas
(with the picker and with Alt+click), an img2img layer made from the paint layer, and, with Live
on, a stroke that re-runs it without anything submitted, its latency shown."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.e2e.test_placement import at_100_percent, create_project, layer_json
from tests.e2e.ui import RUN_TIMEOUT, eventually, row, wait_ready

pytestmark = pytest.mark.e2e

RED = (224, 32, 32)


def pixels(page: Page, server: str, blob: str) -> Image.Image:
    response = page.request.get(f"{server}/api/blobs/{blob}")
    assert response.ok, response.text()
    return Image.open(io.BytesIO(response.body())).convert("RGBA")


def asset(page: Page, server: str, project: str, layer: str) -> str:
    return layer_json(page, server, project, layer)["recipe"]["params"]["asset"]


def test_paint_pick_and_live_img2img(page: Page, server: str, artifacts: Path) -> None:
    project = create_project(page, server, "Live", 512, 512)
    page.get_by_role("navigation", name="Operations").get_by_role("button", name="Paint", exact=True).click()
    toolbar = page.get_by_role("toolbar", name="Painting")
    # The server's first layer can take a while (it may load the op machinery).
    expect(toolbar).to_be_visible(timeout=RUN_TIMEOUT)
    expect(row(page, "L1")).to_be_visible()
    blank = asset(page, server, project, "L1")
    origin = at_100_percent(page)

    def stroke(start: tuple[int, int], end: tuple[int, int]) -> None:
        page.mouse.move(origin["x"] + start[0], origin["y"] + start[1])
        page.mouse.down()
        page.mouse.move(origin["x"] + end[0], origin["y"] + end[1], steps=8)
        page.mouse.up()

    colour = toolbar.get_by_label("Colour")
    colour.fill("#e02020")
    toolbar.get_by_label("Size").fill("30")
    stroke((100, 100), (300, 100))
    page.keyboard.press("e")
    expect(toolbar.get_by_role("button", name="Eraser")).to_have_attribute("aria-pressed", "true")
    stroke((250, 100), (330, 100))
    # Nothing is saved while painting (no Live): the paint layer is still blank.
    page.wait_for_timeout(600)
    assert asset(page, server, project, "L1") == blank
    toolbar.get_by_role("button", name="Done").click()
    # Done closes the toolbar once the painting is uploaded: a server round trip.
    expect(toolbar).to_have_count(0, timeout=RUN_TIMEOUT)
    eventually(lambda: asset(page, server, project, "L1") != blank, True)
    painted = pixels(page, server, wait_ready(page, "L1"))
    assert painted.size == (512, 512)
    assert painted.getpixel((150, 100)) == (*RED, 255)
    assert painted.getpixel((100, 300))[3] == 0, "painted where the brush never went"
    assert painted.getpixel((290, 100))[3] == 0, "the eraser left paint"
    assert painted.getpixel((150, 120))[3] == 0, "the brush is wider than its size"

    # Repaint: the picker (I) takes the colour under it from the canvas and hands back to the
    # brush; Alt+click with the brush does the same.
    picked_from = asset(page, server, project, "L1")
    row(page, "L1").get_by_role("button", name="Repaint").click()
    toolbar = page.get_by_role("toolbar", name="Painting")
    colour = toolbar.get_by_label("Colour")
    expect(colour).to_have_value("#e02020")  # the brush carries over
    for pick in ("tool", "alt"):
        colour.fill("#1030f0")
        expect(colour).to_have_value("#1030f0")
        page.mouse.move(origin["x"] + 150, origin["y"] + 100)
        if pick == "tool":
            page.keyboard.press("i")
            expect(toolbar.get_by_role("button", name="Picker")).to_have_attribute("aria-pressed", "true")
            page.mouse.click(origin["x"] + 150, origin["y"] + 100)
        else:
            page.keyboard.down("Alt")
            page.mouse.click(origin["x"] + 150, origin["y"] + 100)
            page.keyboard.up("Alt")
        expect(colour).to_have_value("#e02020")
        expect(toolbar.get_by_role("button", name="Brush")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Escape")
    expect(toolbar).to_have_count(0, timeout=RUN_TIMEOUT)
    # Picking changed no pixels: nothing was saved.
    page.wait_for_timeout(300)
    assert asset(page, server, project, "L1") == picked_from

    # An img2img layer made from the paint layer, with few steps.
    row(page, "L1").locator(".layer-name").click()
    page.get_by_role("navigation", name="Operations").get_by_role("button", name="Image to image").click()
    form = page.get_by_role("form", name="Image to image")
    form.get_by_label("Prompt", exact=True).fill("a red apple")
    form.get_by_label("Steps", exact=True).fill("4")
    form.get_by_role("button", name="Add layer").click()
    before = wait_ready(page, "L2")
    assert layer_json(page, server, project, "L2")["recipe"]["inputs"] == {"image_layer": "L1"}
    job_before = layer_json(page, server, project, "L2")["run"]["job"]

    # Live on: it starts painting the paint layer; a stroke re-runs the img2img layer by itself.
    live = row(page, "L2").get_by_role("button", name="Live")
    expect(row(page, "L1").get_by_role("button", name="Live")).to_have_count(0)
    live.click()
    expect(live).to_have_attribute("aria-pressed", "true")
    toolbar = page.get_by_role("toolbar", name="Painting")
    expect(toolbar).to_be_visible()
    saved = asset(page, server, project, "L1")
    toolbar.get_by_label("Colour").fill("#20e040")
    stroke((100, 300), (400, 300))
    expect(row(page, "L2")).not_to_have_attribute("data-blob", before, timeout=RUN_TIMEOUT)
    after = wait_ready(page, "L2")
    assert after != before
    assert asset(page, server, project, "L1") != saved
    assert pixels(page, server, after) != pixels(page, server, before)
    job = layer_json(page, server, project, "L2")["run"]["job"]
    assert job not in (None, job_before), "the img2img layer's pixels are not from a new run"
    assert page.request.get(f"{server}/api/jobs/{job}").json()["state"] == "completed"
    expect(row(page, "L2").locator(".live-latency")).to_have_text(re.compile(r"^· \d+\.\d\d s$"))
    latency = float(row(page, "L2").locator(".live-latency").inner_text().split()[1])
    assert 0.3 <= latency < 60, latency  # at least the pause before saving
    page.screenshot(path=str(artifacts / "paint-live.png"))

    # Live off: strokes wait for Done again.
    live.click()
    expect(live).to_have_attribute("aria-pressed", "false")
    saved = asset(page, server, project, "L1")
    stroke((100, 400), (400, 400))
    page.wait_for_timeout(800)
    assert asset(page, server, project, "L1") == saved
    toolbar.get_by_role("button", name="Done").click()
    eventually(lambda: asset(page, server, project, "L1") != saved, True)
    assert pixels(page, server, wait_ready(page, "L1")).getpixel((250, 400)) == (32, 224, 64, 255)
