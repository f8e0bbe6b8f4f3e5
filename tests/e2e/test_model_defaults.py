"""Picking a model in the Dream form sets the parameters that suit its family: a server whose
model folder holds a (fake) Flux.1 pipeline folder lists it, and picking it sets 28 steps and
guidance 3.5, keeps the canvas size, and says which defaults were applied."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import open_page, serve_app
from tests.e2e.ui import new_project_with_dream_form

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def flux_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder with a Flux.1 pipeline folder: the catalog reads only its model_index.json."""
    folder = tmp_path_factory.mktemp("e2e-models") / "flux-test"
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))
    return folder


@pytest.fixture(scope="module")
def models_server(
    tmp_path_factory: pytest.TempPathFactory, artifacts: Path, flux_model: Path
) -> Iterator[str]:
    env = {"OPENDREAM_MODEL_DIRS": json.dumps([str(flux_model.parent)])}
    yield from serve_app(tmp_path_factory, artifacts, "models-server", env)


@pytest.fixture
def models_page(browser: Browser, models_server: str) -> Iterator[Page]:
    with open_page(browser, models_server) as page:
        yield page


def test_picking_a_model_applies_its_family_defaults(models_page: Page, flux_model: Path) -> None:
    page = models_page
    form = new_project_with_dream_form(page, "Defaults")
    model = form.get_by_label("Model", exact=True)
    # The model is offered in the field's list, labelled with its family.
    option = page.locator(f"#{model.get_attribute('list')} option[value='{flux_model}']")
    expect(option).to_have_attribute("label", "Flux.1 · 1 MB")
    expect(form.get_by_label("Steps", exact=True)).to_have_value("20")
    width = form.get_by_label("Width", exact=True).input_value()

    model.fill(str(flux_model))  # what choosing the suggestion does: the field takes its value
    expect(form.get_by_label("Steps", exact=True)).to_have_value("28")
    expect(form.get_by_label("Guidance Scale", exact=True)).to_have_value("3.5")
    expect(form.get_by_label("Scheduler", exact=True).locator("option:checked")).to_have_text("default")
    expect(form.get_by_label("Width", exact=True)).to_have_value(width)  # the size follows the canvas
    expect(form.get_by_role("status")).to_have_text(
        "Flux.1 defaults applied: steps 28, guidance scale 3.5, scheduler default"
    )
