"""Locators, waits and a static web server shared by the browser tests."""

from __future__ import annotations

import functools
import http.server
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

RUN_TIMEOUT = 300_000  # ms, for a layer to finish running on tiny models on a CPU, loaded or not
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def row(page: Page, layer_id: str) -> Locator:
    """The layers panel's row of ``layer_id``."""
    return page.locator(f"li[data-layer='{layer_id}']")


def new_project_with_dream_form(page: Page, name: str) -> Locator:
    """Create a project named ``name`` from the home page and open its Dream form."""
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("button", name=name)).to_be_visible()
    page.get_by_role("navigation", name="Operations").get_by_role("button", name="Dream", exact=True).click()
    return page.get_by_role("form", name="Dream")


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


def eventually(read: Callable[[], object], want: object, timeout: float = 10) -> None:
    """Wait until ``read()`` equals ``want``; fail with the last value read."""
    deadline = time.monotonic() + timeout
    while (got := read()) != want and time.monotonic() < deadline:
        time.sleep(0.1)
    assert got == want


def shown_pixel(page: Page, x: float, y: float) -> list[int]:
    """The RGBA the canvas view shows at page point (x, y): its Konva canvases (checkerboard,
    layers, overlays) composited in order over the view's background."""
    return page.evaluate(
        """([x, y]) => {
            const out = document.createElement('canvas')
            out.width = out.height = 1
            const context = out.getContext('2d')
            context.fillStyle = getComputedStyle(document.querySelector('.canvas-container')).backgroundColor
            context.fillRect(0, 0, 1, 1)
            for (const canvas of document.querySelectorAll('.canvas-container canvas')) {
                const box = canvas.getBoundingClientRect()
                const ratio = canvas.width / box.width
                const [sx, sy] = [Math.floor((x - box.x) * ratio), Math.floor((y - box.y) * ratio)]
                context.drawImage(canvas, sx, sy, 1, 1, 0, 0, 1, 1)
            }
            return Array.from(context.getImageData(0, 0, 1, 1).data)
        }""",
        [x, y],
    )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 (another origin than the app); its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_address[1]}"
        finally:
            httpd.shutdown()
            thread.join(timeout=5)
