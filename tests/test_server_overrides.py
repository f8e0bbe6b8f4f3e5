"""Overrides over HTTP: /api/extensions lists what a user's extension overrides and what it
needs; PUT /api/extensions/overrides/{op} switches back to the built-in (and remembers it);
/api/ops says which implementation runs; a workflow import notes an override it lacks."""

from __future__ import annotations

import io
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.original_fixtures import INVERT_OVERRIDE, ORIGINALS
from tests.server_fixtures import BASE, make_app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    folder = tmp_path / "data" / "extensions"
    folder.mkdir(parents=True)
    shutil.copy(ORIGINALS / "dalle.py", folder / "dalle.py")
    shutil.copy(ORIGINALS / "sam.py", folder / "sam.py")
    (folder / "my_invert.py").write_text(INVERT_OVERRIDE)
    app = make_app(tmp_path / "data")
    with TestClient(app, base_url=BASE) as client:
        yield client
    app.state.opendream.workspace.close()
    for path in folder.glob("*.py"):  # the app's registry went with it
        sys.modules.pop(f"opendream_ext_{path.stem}", None)


def _listed(client: TestClient) -> dict[str, dict]:
    response = client.get("/api/extensions")
    assert response.status_code == 200
    return {x["source"]: x for x in response.json()["extensions"]}


def _ops(client: TestClient) -> dict[str, dict]:
    return {op["name"]: op for op in client.get("/api/ops").json()["ops"]}


def test_the_listing_shows_overrides_and_missing_packages(client: TestClient, tmp_path: Path) -> None:
    folder = (tmp_path / "data" / "extensions").resolve()
    listed = _listed(client)
    assert listed[str(folder / "dalle.py")]["overrides"] == [
        {"op": "dream", "replaces": "builtin", "active": True}
    ]
    sam = listed[str(folder / "sam.py")]
    assert sam["missing"] == ["segment-anything"] and "pip install segment-anything" in sam["error"]
    assert listed["opendream.extensions.sam"]["error"] is None, "the bundled sam is unaffected"
    ops = _ops(client)
    assert (ops["dream"]["extension"], ops["dream"]["overrides"]) == ("dalle", "builtin")
    assert ops["flatten"]["overrides"] is None


def test_switching_back_to_the_built_in_is_remembered(client: TestClient, tmp_path: Path) -> None:
    folder = (tmp_path / "data" / "extensions").resolve()
    response = client.put("/api/extensions/overrides/dream", json={"use_builtin": True})
    assert response.status_code == 200, response.text
    dalle = next(x for x in response.json()["extensions"] if x["source"] == str(folder / "dalle.py"))
    assert dalle["overrides"] == [{"op": "dream", "replaces": "builtin", "active": False}]
    assert dalle["ops"] == ["dream"], "still listed: it is the extension's op, switched off"
    assert _ops(client)["dream"]["extension"] == "builtin"
    assert json.loads((folder / "overrides.json").read_text()) == {"use_builtin": ["dream"]}
    assert client.post("/api/extensions/reload").status_code == 200
    assert _ops(client)["dream"]["extension"] == "builtin", "a reload keeps the choice"

    assert client.put("/api/extensions/overrides/dream", json={"use_builtin": False}).status_code == 200
    assert _ops(client)["dream"]["extension"] == "dalle"


def test_bad_switches_are_refused_and_change_nothing(client: TestClient, tmp_path: Path) -> None:
    missing = client.put("/api/extensions/overrides/flatten", json={"use_builtin": True})
    assert (
        missing.status_code == 404
        and "no extension overrides an op named 'flatten'" in missing.json()["detail"]
    )
    assert (
        client.put("/api/extensions/overrides/dream", json={"use_builtin": "yes please"}).status_code == 422
    )
    assert client.put("/api/extensions/overrides/dream", json={}).status_code == 422
    assert not (tmp_path / "data" / "extensions" / "overrides.json").exists()
    assert _ops(client)["dream"]["extension"] == "dalle"


def test_an_import_notes_a_layer_whose_override_is_not_here(client: TestClient) -> None:
    document = {
        "format": "opendream.workflow",
        "version": 1,
        "name": "made elsewhere",
        "canvas": {"width": 32, "height": 32},
        "layers": [
            {
                "id": "L1",
                "name": "flat",
                "kind": "image",
                "op": "flatten",
                "op_version": "1",
                "extension": "fancy_flatten",
                "overrides": "builtin",
                "params": {},
                "inputs": {"layers": []},
                "visible": True,
                "opacity": 1.0,
                "result": None,
            }
        ],
        "assets": {},
    }
    files = {"file": ("w.json", io.BytesIO(json.dumps(document).encode()), "application/json")}
    response = client.post("/api/projects/import", files=files)
    assert response.status_code == 201, response.text
    assert response.json()["notes"] == {
        "L1": "made by extension 'fancy_flatten' (overriding the built-in `flatten`); here the built-in `flatten` runs"
    }
    project = response.json()["project"]["id"]
    report = client.post(f"/api/projects/{project}/replay", json={"timeout": 20}).json()
    assert report["layers"][0]["note"].startswith("made by extension 'fancy_flatten'")
