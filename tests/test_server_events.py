"""Every WebSocket message the server sends in a real run matches its declared model
(server/ws_models.py, the shapes the OpenAPI document and the web UI's types are made from)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from opendream.server.ws_models import SERVER_EVENT, ServerEvent
from tests.fake_services import FakeService, openai_images, png_b64, serve
from tests.server_fixtures import BASE, WS, make_app, new_project, png_bytes, upload, wait_for, wait_idle

# Every `type` a ServerEvent may have, from the models themselves.
EVENT_TYPES = {
    value
    for model in get_args(get_args(ServerEvent)[0])
    for value in get_args(model.model_fields["type"].annotation)
}


def recorder(app: FastAPI) -> list[dict[str, Any]]:
    """What the app's hub publishes from now on, as its clients receive it (JSON)."""
    hub = app.state.opendream.hub
    published: list[dict[str, Any]] = []
    publish = hub.publish

    def record(event: dict[str, Any]) -> None:
        published.append(json.loads(json.dumps(event)))
        publish(event)

    hub.publish = record
    return published


def check(events: list[dict[str, Any]]) -> set[str]:
    """Validate each event strictly against its model; the types seen."""
    for event in events:
        SERVER_EVENT.validate_json(json.dumps(event), strict=True)
    return {e["type"] for e in events}


def _add(client: TestClient, pid: str, op: str, **params: Any) -> dict:
    response = client.post(f"/api/projects/{pid}/layers", json={"op": op, "params": params})
    assert response.status_code == 201, response.text
    return response.json()


def test_the_models_refuse_what_they_do_not_declare() -> None:
    with pytest.raises(ValueError, match="extra"):
        SERVER_EVENT.validate_python({"type": "consent.needed", "project": "p1", "surprise": 1})
    with pytest.raises(ValueError):
        SERVER_EVENT.validate_python({"type": "job.progress", "job": "j1", "project": "p1", "layers": []})


def test_every_event_of_a_run_matches_its_model(tmp_path: Path) -> None:
    app = make_app(tmp_path / "data")
    published = recorder(app)
    with TestClient(app, base_url=BASE) as client, client.websocket_connect(WS) as ws:
        pid = new_project(client)["id"]
        image = upload(client, pid, png_bytes()).json()["layers"][0]
        _add(client, pid, "server_test_slow", steps=3)
        _add(client, pid, "server_test_download", chunks=2)
        _add(client, pid, "server_test_fail")
        wait_idle(client, pid)
        long = _add(client, pid, "server_test_slow", steps=5000, delay=0.01)["jobs"][0]
        wait_for(
            lambda: client.get(f"/api/jobs/{long['id']}").json()["state"] == "running", what="a running job"
        )
        answers = []
        for message in ({"type": "cancel", "job": long["id"]}, {"type": "cancel", "job": "nope"}, [1]):
            ws.send_json(message)
            answers.append(
                next(e for e in iter(ws.receive_json, None) if e["type"] in ("cancel.accepted", "error"))
            )
        wait_idle(client, pid)
        assert client.delete(f"/api/projects/{pid}/layers/{image}").status_code == 200
        assert client.post("/api/extensions/reload").status_code == 200
        assert client.delete(f"/api/projects/{pid}").status_code == 204
    app.state.opendream.workspace.close()

    assert check(answers) == {"cancel.accepted", "error"}
    # consent.needed is the next test's: it takes a paid op's layer from a file.
    assert check(published) == EVENT_TYPES - {"cancel.accepted", "error", "consent.needed"}


@pytest.fixture
def openai() -> Iterator[FakeService]:
    pytest.importorskip("openai", reason="dalle needs the openai SDK (the remote extra)")
    with serve(FakeService()) as service:
        yield openai_images(service)


def test_the_consent_event_matches_its_model(tmp_path: Path, openai: FakeService) -> None:
    """A forced replay of a file's dalle layer stops before calling out and asks for consent."""
    app = make_app(tmp_path / "data", openai_api_key="sk-test", openai_base_url=f"{openai.url}/v1")
    published = recorder(app)
    carried = base64.b64decode(png_b64((1, 2, 3), (256, 256)))
    kept = "sha256:" + hashlib.sha256(carried).hexdigest()
    layer = {
        "id": "L1",
        "name": "dalle",
        "kind": "image",
        "op": "dalle",
        "op_version": "1",
        "params": {"prompt": "kept", "model": "dall-e-2", "size": "256x256", "num_images": 1},
        "inputs": {},
        "visible": True,
        "opacity": 1.0,
        "result": kept,
    }
    document = {
        "format": "opendream.workflow",
        "version": 1,
        "name": "from a file",
        "canvas": {"width": 256, "height": 256},
        "layers": [layer],
        "assets": {kept: "data:image/png;base64," + base64.b64encode(carried).decode()},
    }
    with TestClient(app, base_url=BASE) as client:
        files = {"file": ("w.json", json.dumps(document).encode(), "application/json")}
        pid = client.post("/api/projects/import", files=files).json()["project"]["id"]
        client.post(f"/api/projects/{pid}/replay", json={"force": True, "timeout": 10})
    app.state.opendream.workspace.close()
    assert openai.requests == []
    assert "consent.needed" in check(published)
