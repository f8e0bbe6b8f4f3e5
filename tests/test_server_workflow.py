"""Export (JSON, self-contained JSON, PNG), import (those and the original format), replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.server_fixtures import mask_bytes, new_project, upload, wait_idle

FIXTURES = Path(__file__).parent / "fixtures" / "workflows"


def _chain(client: TestClient) -> str:
    pid = new_project(client, name="masks", width=32, height=32)["id"]
    upload(client, pid, mask_bytes(), route="masks")
    client.post(f"/api/projects/{pid}/layers", json={"op": "feather_mask", "inputs": {"mask": "L1"}})
    client.post(f"/api/projects/{pid}/layers", json={"op": "invert_mask", "inputs": {"mask": "L2"}})
    wait_idle(client, pid)
    return pid


def _import(client: TestClient, data: bytes, name: str = "w.json"):
    return client.post("/api/projects/import", files={"file": (name, data, "application/octet-stream")})


def test_export_carries_assets_and_all_embeds_results(client: TestClient) -> None:
    pid = _chain(client)
    response = client.get(f"/api/projects/{pid}/workflow")
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    document = response.json()
    assert document["format"] == "opendream.workflow"
    assert [x["op"] for x in document["layers"]] == ["paint_mask", "feather_mask", "invert_mask"]
    # built-in ops ship with Opendream: there is no extension to name
    assert not any("extension" in x for x in document["layers"])
    assert len(document["assets"]) == 1
    full = client.get(f"/api/projects/{pid}/workflow", params={"embed": "all"}).json()
    assert len(full["assets"]) == 3
    assert client.get(f"/api/projects/{pid}/workflow", params={"embed": "some"}).status_code == 422


@pytest.mark.parametrize("embed", ["assets", "all"])
def test_import_then_replay_reports_exact(client: TestClient, embed: str) -> None:
    pid = _chain(client)
    document = client.get(f"/api/projects/{pid}/workflow", params={"embed": embed}).content
    imported = _import(client, document)
    assert imported.status_code == 201, imported.text
    new_id = imported.json()["project"]["id"]
    assert new_id != pid
    report = client.post(f"/api/projects/{new_id}/replay", json={"timeout": 30})
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["ok"] and body["complete"], body
    assert [x["result"] for x in body["layers"]] == ["exact", "exact", "exact"]


def test_a_replay_that_differs_on_another_backend_says_so(client: TestClient) -> None:
    pid = _chain(client)
    document = client.get(f"/api/projects/{pid}/workflow").json()
    document["environment"] = {**document.get("environment", {}), "backend": "openvino"}
    document["layers"][1]["result"] = "sha256:" + "0" * 64  # as an OpenVINO run would differ
    new_id = _import(client, json.dumps(document).encode()).json()["project"]["id"]
    body = client.post(f"/api/projects/{new_id}/replay", json={"timeout": 30}).json()
    assert [(x["result"], x["reason"]) for x in body["layers"]] == [
        ("exact", None),
        ("differs", "backend changed: made on openvino, replayed on torch"),
        ("exact", None),
    ]
    document["environment"].pop("backend")  # made on torch: a difference has no known reason
    again = _import(client, json.dumps(document).encode()).json()["project"]["id"]
    body = client.post(f"/api/projects/{again}/replay", json={"timeout": 30}).json()
    assert [x["reason"] for x in body["layers"]] == [None, None, None] and not body["ok"]


def test_forced_replay_runs_every_layer_again(client: TestClient) -> None:
    pid = _chain(client)
    body = client.post(f"/api/projects/{pid}/replay", json={"force": True}).json()
    assert body["complete"]
    assert [x["outcome"] for x in body["layers"]] == ["computed", "computed", "computed"]
    assert [x["result"] for x in body["layers"]] == ["new", "new", "new"]


def test_export_png_round_trips(client: TestClient) -> None:
    pid = _chain(client)
    client.patch(f"/api/projects/{pid}/layers/L3", json={"visible": True})
    png = client.get(f"/api/projects/{pid}/export.png")
    assert png.status_code == 200, png.text
    assert png.headers["content-type"] == "image/png"
    imported = _import(client, png.content, "canvas.png")
    assert imported.status_code == 201, imported.text
    assert [x["recipe"]["op"] for x in imported.json()["project"]["layers"]] == [
        "paint_mask",
        "feather_mask",
        "invert_mask",
    ]


def test_workflow_with_unknown_ops_is_refused_and_nothing_stored(client: TestClient) -> None:
    pid = _chain(client)
    document = client.get(f"/api/projects/{pid}/workflow").json()
    document["layers"][1]["op"] = "summon_dragon"
    response = _import(client, json.dumps(document).encode())
    assert response.status_code == 404, response.text
    assert "summon_dragon" in response.json()["detail"]
    assert [p["id"] for p in client.get("/api/projects").json()] == [pid]


@pytest.mark.parametrize(
    "data",
    [b"{not json", b"[]", b'{"format": "opendream.workflow", "version": 99}', b"\x89PNG\r\n\x1a\nbroken"],
    ids=["malformed", "array", "future-version", "broken-png"],
)
def test_bad_workflow_files_are_4xx(client: TestClient, data: bytes) -> None:
    response = _import(client, data)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["detail"]
    assert client.get("/api/projects").json() == []


def test_original_format_imports(client: TestClient) -> None:
    fixture = json.loads((FIXTURES / "original_refs.json").read_text())
    document = {"0": fixture["1"], "1": {"op": "invert_mask", "params": ["0"], "options": {}}}
    response = _import(client, json.dumps(document).encode(), "original.json")
    assert response.status_code == 201, response.text
    pid = response.json()["project"]["id"]
    layers = wait_idle(client, pid)["layers"]
    assert [(x["recipe"]["op"], x["status"]) for x in layers] == [
        ("paint_mask", "ready"),
        ("invert_mask", "ready"),
    ]


def test_original_format_names_missing_ops(client: TestClient) -> None:
    document = {"0": {"op": "summon_dragon", "params": [], "options": {}}}
    response = _import(client, json.dumps(document).encode(), "original.json")
    assert response.status_code == 404, response.text
    assert "summon_dragon" in response.json()["detail"]
