"""The keyboard alone, no mouse: create a project from the project list, find Dream through the op
picker's search ("/" jumps there), fill and submit its form, then undo (Ctrl+Z) and redo
(Ctrl+Shift+Z) the layer. The focused control is visibly outlined."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.ui import row, wait_ready

pytestmark = pytest.mark.e2e

MAX_TABS = 60


def focused(locator: Locator) -> bool:
    return bool(locator.evaluate("el => el === document.activeElement"))


def tab_to(page: Page, locator: Locator, what: str) -> None:
    """Press Tab until ``locator`` has the focus; fail if it never gets it."""
    expect(locator).to_have_count(1)
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if focused(locator):
            return
    active = page.evaluate("() => document.activeElement?.outerHTML.slice(0, 200) ?? null")
    pytest.fail(f"{MAX_TABS} presses of Tab never reached {what}; the focus is on {active}")


def replace_text(page: Page, text: str) -> None:
    page.keyboard.press("Control+a")
    page.keyboard.type(text)


def focus_ring(page: Page) -> dict[str, str]:
    return page.evaluate(
        """() => {
            const style = getComputedStyle(document.activeElement)
            return {style: style.outlineStyle, width: style.outlineWidth, color: style.outlineColor}
        }"""
    )


def assert_focus_visible(page: Page) -> None:
    ring = focus_ring(page)
    assert ring["style"] != "none" and ring["width"] != "0px", f"the focused control has no outline: {ring}"


def test_keyboard_only(page: Page, server: str, artifacts: Path) -> None:
    expect(page.get_by_text("random weights: images are noise")).to_be_visible()

    # The new-project form: name, a custom 64 x 64 size (arrow keys move through the radios).
    name = page.get_by_label("Name")
    tab_to(page, name, "the project name")
    replace_text(page, "Keys")
    tab_to(page, page.get_by_role("radio", checked=True), "the size presets")
    custom = page.get_by_label("Custom")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(custom).to_be_checked()
    tab_to(page, page.get_by_label("Width"), "the width")
    replace_text(page, "64")
    tab_to(page, page.get_by_label("Height"), "the height")
    replace_text(page, "64")
    create = page.get_by_role("button", name="Create project")
    tab_to(page, create, "Create project")
    assert_focus_visible(page)
    page.screenshot(path=str(artifacts / "keyboard-01-create-focused.png"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Keys")).to_be_visible()
    expect(page.get_by_text("64 × 64")).to_be_visible()

    # "/" jumps to the op picker's search; then Dream.
    picker = page.get_by_role("navigation", name="Operations")
    page.keyboard.press("/")
    expect(picker.get_by_role("searchbox", name="Search operations")).to_be_focused()
    assert_focus_visible(page)
    page.keyboard.type("dream")
    dream = picker.get_by_role("button", name="Dream", exact=True)
    expect(picker.get_by_role("button", name="Mask and inpaint")).to_have_count(0)
    tab_to(page, dream, "the Dream op")
    assert_focus_visible(page)
    page.keyboard.press("Enter")

    # Its form: the prompt, two steps, and Enter on the submit button.
    form = page.get_by_role("form", name="Dream")
    tab_to(page, form.get_by_label("Prompt", exact=True), "the prompt")
    page.keyboard.type("a lighthouse at night")
    tab_to(page, form.get_by_label("Steps", exact=True), "the steps")
    replace_text(page, "2")
    submit = form.get_by_role("button", name="Add layer")
    tab_to(page, submit, "Add layer")
    assert_focus_visible(page)
    page.screenshot(path=str(artifacts / "keyboard-02-submit-focused.png"))
    page.keyboard.press("Enter")
    blob = wait_ready(page, "L1")
    # The layer was made from what was typed (asked of the API, not the mouse).
    project = page.request.get(f"{server}/api/projects").json()[0]
    layers = page.request.get(f"{server}/api/projects/{project['id']}").json()["layers"]
    assert [(x["recipe"]["op"], x["recipe"]["params"]["prompt"]) for x in layers] == [
        ("dream", "a lighthouse at night")
    ]
    assert project["name"] == "Keys"
    page.screenshot(path=str(artifacts / "keyboard-03-dreamed.png"))

    # Undo and redo from the keyboard.
    page.keyboard.press("Control+z")
    expect(row(page, "L1")).to_have_count(0)
    expect(page.locator("li[data-layer]")).to_have_count(0)
    page.keyboard.press("Control+Shift+z")
    expect(row(page, "L1")).to_have_count(1)
    assert wait_ready(page, "L1") == blob, "redo brings back the same pixels"
    page.screenshot(path=str(artifacts / "keyboard-04-redone.png"))
