"""The Dream form's LoRAs in a real browser: a tiny LoRA made for the tiny txt2img model at test
time, in the server's model folder, is offered; add it by typing its path, weight it 0.8, dream,
and the layer's recipe holds the LoRA; its edit form shows it again. An embedding in the same
folder is offered under the prompt, and a dream with it picked records it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import open_page, serve_app
from tests.e2e.ui import new_project_with_dream_form, row, wait_ready

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
def embedding(lora: Path, tiny_dir: Path) -> Path:
    """A two-vector embedding in A1111's format for the tiny model, beside the LoRA."""
    import torch
    from safetensors.torch import save_file

    width = json.loads((tiny_dir / "txt2img" / "text_encoder" / "config.json").read_text())["hidden_size"]
    path = lora.parent / "embeddings" / "sparkle.safetensors"
    path.parent.mkdir()
    save_file(
        {"emb_params": torch.randn(2, width, generator=torch.Generator().manual_seed(0)) * 3}, str(path)
    )
    return path


@pytest.fixture(scope="module")
def lora_server(
    tmp_path_factory: pytest.TempPathFactory, artifacts: Path, tiny_dir: Path, lora: Path, embedding: Path
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
    form = new_project_with_dream_form(page, "LoRAs")
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


def test_an_embedding_picked_under_the_prompt_is_used(lora_page: Page, lora_server: str) -> None:
    page = lora_page
    form = new_project_with_dream_form(page, "Embeddings")
    form.get_by_label("Prompt", exact=True).fill("a cat")
    form.get_by_label("Add an embedding to Prompt").select_option("sparkle")
    expect(form.get_by_label("Prompt", exact=True)).to_have_value("a cat, sparkle")
    for name, value in (("Width", "64"), ("Height", "64"), ("Steps", "2")):
        form.get_by_label(name, exact=True).fill(value)
    form.get_by_role("button", name="Add layer").click()
    wait_ready(page, "L1")
    project = next(
        p for p in page.request.get(f"{lora_server}/api/projects").json() if p["name"] == "Embeddings"
    )
    layer = page.request.get(f"{lora_server}/api/projects/{project['id']}").json()["layers"][0]
    assert [e["name"] for e in layer["run"]["environment"]["embeddings"]] == ["sparkle"]
