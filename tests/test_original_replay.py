"""Workflows saved by the original Opendream's app import and replay: the options its `dream`
and `mask_and_inpaint` recorded migrate through each op's declared migration, the same one
for `opendream run`, the import route (which the UI's drops and file picker use) and
`import_any`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from opendream.cli import app as cli
from opendream.core.errors import WorkflowError
from opendream.core.registry import REGISTRY
from opendream.core.workflow import import_any
from tests.diffusion_fixtures import png_bytes, run_op

FIXTURE = Path(__file__).parent / "fixtures" / "workflows" / "original_app.json"
runner = CliRunner()


def app_saved() -> dict:
    """What the original app's Export wrote: every option of each op's form, defaults included
    (`model_ckpt`, `seed`, `device`, `batch_size`, `selected`, `num_steps`, `guidance_scale`),
    the painted mask as `{"op": "mask", "image": URI}`."""
    return json.loads(FIXTURE.read_text())


def small(document: dict) -> dict:
    """The same file with a 64 px dream, so tiny models replay it in seconds (the original's
    `dream` took `**kwargs`; ours has `width`/`height`)."""
    document["0"]["options"].update(width=64, height=64)
    return document


def test_app_saved_file_imports_through_the_ops_migrations() -> None:
    layers = import_any(FIXTURE.read_bytes(), REGISTRY).project.layers
    assert [(x.id, x.recipe.op, x.kind) for x in layers] == [
        ("L1", "dream", "image"),
        ("L2", "paint_mask", "mask"),
        ("L3", "mask_and_inpaint", "image"),
    ]
    dream, inpaint = layers[0].recipe.params, layers[2].recipe.params
    # The original's default model names no model of ours: the role's setting applies.
    assert {k: dream[k] for k in ("prompt", "seed", "steps", "guidance_scale", "num_images", "model")} == {
        "prompt": "a beach at sunset",
        "seed": 42,
        "steps": 2,
        "guidance_scale": 7.5,
        "num_images": 1,
        "model": "",
    }
    assert layers[2].recipe.inputs == {"mask_layer": "L2", "image_layer": "L1"}
    assert {k: inpaint[k] for k in ("prompt", "seed", "steps", "guidance_scale", "model")} == {
        "prompt": "a cat on the beach",
        "seed": 7,
        "steps": 2,
        "guidance_scale": 11.0,
        "model": "",
    }
    recorded = {k for x in layers for k in x.recipe.params}
    assert not recorded & {"model_ckpt", "device", "batch_size", "selected", "num_steps"}


def test_a_model_the_user_has_is_kept() -> None:
    document = app_saved()
    document["0"]["options"]["model_ckpt"] = "me/my-finetune"
    document["2"]["options"]["model_ckpt"] = "runwayml/stable-diffusion-inpainting"
    layers = import_any(json.dumps(document), REGISTRY).project.layers
    assert layers[0].recipe.params["model"] == "me/my-finetune"
    assert layers[2].recipe.params["model"] == "runwayml/stable-diffusion-inpainting"


def test_cli_run_replays_every_layer_with_tiny_models(
    tiny_dir: Path, tmp_path: Path, pinned_threads: int
) -> None:
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(small(app_saved())))
    result = runner.invoke(
        cli,
        ["run", str(path), "--tiny-models", "--data-dir", str(tmp_path / "data"), "--json"],
        env={"OPENDREAM_TINY_MODELS_DIR": str(tiny_dir)},
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # Nothing recorded a result for the generated layers ("new"); the mask is its own asset.
    assert [(x["layer"], x["outcome"], x["result"], x["error"]) for x in report["layers"]] == [
        ("L1", "computed", "new", None),
        ("L2", "computed", "exact", None),
        ("L3", "computed", "new", None),
    ]


def test_import_route_replays_every_layer_with_tiny_models(tiny_client: TestClient) -> None:
    data = json.dumps(small(app_saved())).encode()
    response = tiny_client.post(
        "/api/projects/import", files={"file": ("workflow.json", data, "application/json")}
    )
    assert response.status_code == 201, response.text
    project = response.json()["project"]
    assert [x["recipe"]["op"] for x in project["layers"]] == ["dream", "paint_mask", "mask_and_inpaint"]
    report = tiny_client.post(f"/api/projects/{project['id']}/replay", json={"timeout": 300}).json()
    assert report["complete"] and report["ok"], report
    assert [(x["layer"], x["status"], x["result"]) for x in report["layers"]] == [
        ("L1", "ready", "new"),
        ("L2", "ready", "exact"),
        ("L3", "ready", "new"),
    ]


def test_selected_keeps_the_image_the_original_showed(tiny_manager, tiny_settings) -> None:
    """The original made `batch_size` images seeded `seed + i` and showed image `selected`."""
    document = {
        "0": {
            "op": "dream",
            "params": ["a cat"],
            "options": {"seed": 9, "batch_size": 3, "selected": 2, "num_steps": 2, "width": 64, "height": 64},
        }
    }
    (layer,) = import_any(json.dumps(document), REGISTRY).project.layers
    assert (layer.recipe.params["seed"], layer.recipe.params["num_images"]) == (11, 1)
    (replayed,) = run_op("dream", layer.recipe.params, {}, tiny_manager, tiny_settings)
    batch = run_op(
        "dream",
        {**layer.recipe.params, "seed": 9, "num_images": 3},
        {},
        tiny_manager,
        tiny_settings,
    )
    # the batch's image 2, up to the float rounding batching changes; not images 0 or 1
    shown = [
        np.abs(np.asarray(replayed.image, np.int16) - np.asarray(x.image, np.int16)).max() for x in batch
    ]
    assert shown[2] <= 2 and min(shown[:2]) > 2, shown
    (again,) = run_op("dream", layer.recipe.params, {}, tiny_manager, tiny_settings)
    assert png_bytes(again.image) == png_bytes(replayed.image)


def entry(**options: object) -> dict:
    return {"0": {"op": "dream", "params": ["x"], "options": {**app_saved()["0"]["options"], **options}}}


BAD = [
    ("unknown option", entry(style="vivid"), "`style`: is not a parameter of this op"),
    (
        "selected out of range",
        entry(batch_size=2, selected=2),
        "`selected`: is 2 but the batch has 2 image(s)",
    ),
    ("batch_size not an integer", entry(batch_size=1.5), "`batch_size`: has to be an integer >= 1, not 1.5"),
    ("batch_size zero", entry(batch_size=0), "`batch_size`: has to be an integer >= 1, not 0"),
    ("model_ckpt not text", entry(model_ckpt=["a"]), "`model_ckpt`: has to be a model name"),
    ("num_steps out of bounds", entry(num_steps=0), "`steps`: has to be at least 1"),
]


@pytest.mark.parametrize(("document", "message"), [x[1:] for x in BAD], ids=[x[0] for x in BAD])
def test_bad_original_options_name_the_layer_and_the_param(
    document: dict, message: str, tmp_path: Path
) -> None:
    with pytest.raises(WorkflowError) as caught:
        import_any(json.dumps(document), REGISTRY)
    assert caught.value.message.startswith("entry '0' (dream): ")
    assert message in caught.value.message
    # `opendream run` says the same and writes nothing
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    result = runner.invoke(cli, ["run", str(path), "--data-dir", str(tmp_path / "never")])
    assert result.exit_code == 2 and message in " ".join(result.stderr.split()), result.stderr
    assert not (tmp_path / "never").exists()


def test_bad_original_file_through_the_import_route_stores_nothing(tiny_client: TestClient) -> None:
    data = json.dumps(entry(selected=5)).encode()
    response = tiny_client.post("/api/projects/import", files={"file": ("w.json", data, "application/json")})
    assert response.status_code == 400
    assert "entry '0' (dream)" in response.json()["detail"] and "`selected`" in response.json()["detail"]
    assert tiny_client.get("/api/projects").json() == []
