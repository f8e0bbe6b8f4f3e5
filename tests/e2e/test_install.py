"""Installing an extension from a URL in a real browser: a local HTTP server serves an extension
file; the Extensions dialog fetches it into quarantine and shows its source URL, size, full sha256
and source; enabling it adds its op to the op picker under its category; the op's generated form
then makes a layer from an uploaded image."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.e2e.ui import row, serve_folder, wait_ready

pytestmark = pytest.mark.e2e

CATEGORY = "e2e tests"
TITLE = "Posterize (e2e)"
EXTENSION = f'''"""Posterize an image: a small extension served to the browser test from a local URL."""

from typing import Annotated

from PIL import Image

import opendream
from opendream import Field, ImageLayer


@opendream.op(title="{TITLE}", category="{CATEGORY}")
def e2e_posterize(image: ImageLayer, levels: Annotated[int, Field(ge=2, le=8)] = 4) -> ImageLayer:
    """Quantize every channel to a few levels."""
    step = 255 / (levels - 1)
    rgba = image.get_image().convert("RGBA")
    r, g, b, a = rgba.split()
    bands = [band.point(lambda v: round(round(v / step) * step)) for band in (r, g, b)]
    return ImageLayer(image=Image.merge("RGBA", (*bands, a)))
'''.encode()


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[str]:
    """A local HTTP server on 127.0.0.1 serving ``e2e_posterize.py``; its URL."""
    folder = tmp_path / "remote"
    folder.mkdir()
    (folder / "e2e_posterize.py").write_bytes(EXTENSION)
    with serve_folder(folder) as base:
        yield f"{base}/e2e_posterize.py"


def gradient_png(path: Path, size: int = 64) -> Path:
    """A smooth RGB gradient: posterizing it visibly changes it."""
    image = Image.new("RGB", (size, size))
    image.putdata([(x * 4, y * 4, (x + y) * 2) for y in range(size) for x in range(size)])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


def test_install_from_url(url_install_page: Page, remote: str, artifacts: Path, tmp_path: Path) -> None:
    page = url_install_page
    sha256 = hashlib.sha256(EXTENSION).hexdigest()

    # A project to work in.
    page.get_by_label("Name").fill("Install")
    page.get_by_label("Custom").check()
    page.get_by_label("Width").fill("64")
    page.get_by_label("Height").fill("64")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("button", name="Install")).to_be_visible()
    picker = page.get_by_role("navigation", name="Operations")
    expect(picker.get_by_role("button", name=TITLE)).to_have_count(0)

    # Fetch: the dialog shows where it came from, its size, its full sha256 and its source.
    page.get_by_role("button", name="Extensions").click()
    dialog = page.get_by_role("dialog", name="Extensions")
    dialog.get_by_label("Extension URL").fill(remote)
    dialog.get_by_role("button", name="Fetch", exact=True).click()
    facts = dialog.locator("dl.install-facts")
    expect(facts).to_contain_text(remote)
    expect(facts).to_contain_text(f"e2e_posterize.py, {len(EXTENSION)} bytes")
    expect(facts.locator("code[data-sha256]")).to_have_text(sha256)
    expect(dialog.get_by_label("Source code")).to_have_text(EXTENSION.decode())
    page.screenshot(path=str(artifacts / "install-01-review.png"))

    # Enable, confirming the hash shown and typing the code the server printed on its console.
    (code,) = re.findall(
        r"type this code in the confirmation: (\d{4}-\d{4})",
        (artifacts / "url-install-server.log").read_text(),
    )
    dialog.get_by_label("Confirmation code").fill(code)
    dialog.get_by_role("button", name=f"Enable (I trust sha256 {sha256[:12]}…)").click()
    expect(dialog.get_by_role("status")).to_contain_text(f"Enabled e2e_posterize: {TITLE}.")
    expect(dialog.locator("li[data-extension='e2e_posterize']")).to_contain_text(f"pinned sha256 {sha256}")
    page.screenshot(path=str(artifacts / "install-02-enabled.png"))
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)

    # The op is in the picker, under its category.
    op_button = picker.get_by_role("region", name=CATEGORY).get_by_role("button", name=TITLE)
    expect(op_button).to_be_visible()
    expect(op_button).to_contain_text("e2e_posterize")  # the extension's badge

    # Upload an image through the file input.
    png = gradient_png(tmp_path / "gradient.png")
    with page.expect_file_chooser() as chooser_info:
        page.get_by_role("button", name="Add image…").click()
    chooser_info.value.set_files(str(png))
    original = wait_ready(page, "L1")

    # Apply the new op with its generated form.
    op_button.click()
    form = page.get_by_role("form", name=TITLE)
    expect(form.get_by_label("Image", exact=True)).to_have_value("L1")
    expect(form.get_by_label("Levels", exact=True)).to_have_value("4")
    form.get_by_label("Levels", exact=True).fill("9")  # out of range: the form says so
    form.get_by_role("button", name="Add layer").click()
    expect(form.locator(".field-error")).not_to_have_count(0)
    form.get_by_label("Levels", exact=True).fill("2")
    form.get_by_role("button", name="Add layer").click()
    posterized = wait_ready(page, "L2")
    expect(row(page, "L2").locator(".badge")).to_have_text("e2e_posterize")
    assert posterized != original
    page.screenshot(path=str(artifacts / "install-03-applied.png"))
