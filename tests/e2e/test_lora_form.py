"""The Dream form's LoRAs in a real browser: a tiny LoRA made for the tiny txt2img model at test
time, in the server's model folder, is offered; add it by typing its path, weight it 0.8, dream,
and the layer's recipe holds the LoRA; its edit form shows it again."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import open_page, serve_app
from tests.e2e.ui import row, wait_ready

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny models the server runs: built here first, so that the LoRA is made for them."""
    from opendream.diffusion.tiny import ensure_tiny_model

    folder = tmp_path_factory.mktemp("e2e-lora-tiny")
    ensure_tiny_model("txt2img", folder)
    return folder


@pytest.fixture(scope="module")
def lora(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from opendream.diffusion.tiny_loras import build_tiny_lora

    return build_tiny_lora(tiny_dir / "txt2img", tmp_path_factory.mktemp("e2e-loras") / "style.safetensors")


@pytest.fixture(scope="module")
def lora_server(
    tmp_path_factory: pytest.TempPathFactory, artifacts: Path, tiny_dir: Path, lora: Path
) -> Iterator[str]:
    env = {"OPENDREAM_TINY_MODELS_DIR": str(tiny_dir), "OPENDREAM_MODEL_DIRS": json.dumps([str(lora.parent)])}
    yield from serve_app(tmp_path_factory, artifacts, "lora-server", env)


@pytest.fixture
def lora_page(browser: Browser, lora_server: str) -> Iterator[Page]:
    with open_page(browser, lora_server) as page:
        yield page


def test_a_dream_with_a_lora_keeps_it_in_its_recipe(
    lora_page: Page, lora_server: str, lora: Path, artifacts: Path
) -> None:
    page = lora_page
    page.get_by_label("Name").fill("LoRAs")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("button", name="LoRAs")).to_be_visible()
    page.get_by_role("navigation", name="Operations").get_by_role("button", name="Dream", exact=True).click()

    form = page.get_by_role("form", name="Dream")
    form.get_by_label("Prompt", exact=True).fill("a pixel cat")
    form.get_by_label("Width", exact=True).fill("64")
    form.get_by_label("Height", exact=True).fill("64")
    form.get_by_label("Steps", exact=True).fill("2")
    form.get_by_role("button", name="Add LoRA").click()
    # The new row has the focus: its file is typed from the keyboard.
    expect(form.get_by_label("LoRA 1 model", exact=True)).to_be_focused()
    model = form.get_by_label("LoRA 1 model", exact=True)
    expect(page.locator(f"#{model.get_attribute('list')} option[value='{lora}']")).to_have_count(1)
    page.keyboard.type(str(lora))
    form.get_by_label("LoRA 1 weight", exact=True).fill("0.8")
    expect(form.get_by_label("LoRA 1 weight slider", exact=True)).to_have_value("0.8")
    form.screenshot(path=str(artifacts / "lora-form.png"))
    form.get_by_role("button", name="Add layer").click()
    wait_ready(page, "L1")

    project = page.request.get(f"{lora_server}/api/projects").json()[0]
    layers = page.request.get(f"{lora_server}/api/projects/{project['id']}").json()["layers"]
    assert layers[0]["recipe"]["params"]["loras"] == [{"model": str(lora), "weight": 0.8}]

    row(page, "L1").get_by_role("button", name="Edit").click()
    edit = page.get_by_role("form", name=re.compile(r"^Edit "))
    expect(edit.get_by_label("LoRA 1 model", exact=True)).to_have_value(str(lora))
    expect(edit.get_by_label("LoRA 1 weight", exact=True)).to_have_value("0.8")
