"""Locators and waits shared by the browser tests."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

RUN_TIMEOUT = 120_000  # ms, for a layer to finish running on tiny models on a CPU
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def row(page: Page, layer_id: str) -> Locator:
    """The layers panel's row of ``layer_id``."""
    return page.locator(f"li[data-layer='{layer_id}']")


def wait_ready(page: Page, layer_id: str) -> str:
    """Wait until the layer is ready; its blob."""
    expect(row(page, layer_id).locator("[data-status]")).to_have_attribute(
        "data-status", "ready", timeout=RUN_TIMEOUT
    )
    # A row has been seen "ready" a moment before its blob arrived; wait for both.
    expect(row(page, layer_id)).to_have_attribute("data-blob", _DIGEST)
    blob = row(page, layer_id).get_attribute("data-blob")
    assert blob
    return blob
