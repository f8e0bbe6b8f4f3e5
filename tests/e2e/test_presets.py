"""Presets in the op form (issue 15 §3): the Dream form offers few-step presets; choosing the LCM
one sets 4 steps, guidance 1 and the lcm scheduler, and the layer's recipe records those values
(and nothing about the preset)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.ui import wait_ready

pytestmark = pytest.mark.e2e

LCM = "Fast: 4 steps, LCM (LCM models and LoRAs)"


def test_lcm_preset_reaches_the_recipe(page: Page, server: str) -> None:
    page.get_by_label("Name").fill("Presets")
    page.get_by_label("Custom").check()
    page.get_by_label("Width").fill("64")
    page.get_by_label("Height").fill("64")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("button", name="Presets")).to_be_visible()
    page.get_by_role("navigation", name="Operations").get_by_role("button", name="Dream", exact=True).click()

    form = page.get_by_role("form", name="Dream")
    preset = form.get_by_label("Preset", exact=True)
    expect(preset.locator("option:checked")).to_have_text("Custom")
    preset.select_option(label=LCM)
    expect(form.get_by_label("Steps", exact=True)).to_have_value("4")
    expect(form.get_by_label("Guidance Scale", exact=True)).to_have_value("1")
    expect(form.get_by_label("Scheduler", exact=True).locator("option:checked")).to_have_text("lcm")
    expect(form.get_by_role("status")).to_have_text(
        "Fast: 4 steps, LCM: steps 4, guidance scale 1, scheduler lcm"
    )

    form.get_by_label("Prompt", exact=True).fill("a lighthouse")
    form.get_by_label("Width", exact=True).fill("64")
    form.get_by_label("Height", exact=True).fill("64")
    expect(preset.locator("option:checked")).to_have_text(LCM)  # other fields leave the preset
    form.get_by_role("button", name="Add layer").click()
    wait_ready(page, "L1")

    project = next(p for p in page.request.get(f"{server}/api/projects").json() if p["name"] == "Presets")
    layers = page.request.get(f"{server}/api/projects/{project['id']}").json()["layers"]
    recipe = next(x for x in layers if x["id"] == "L1")["recipe"]
    assert recipe["op"] == "dream"
    assert recipe["params"]["steps"] == 4
    assert recipe["params"]["guidance_scale"] == 1
    assert recipe["params"]["scheduler"] == "lcm"
    assert "preset" not in str(recipe).lower()
