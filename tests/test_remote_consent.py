"""A workflow file's layers of paid/remote ops wait for the user's consent: importing (or
replaying) a file sends nothing to the service until the user confirms; results the file
carries are used without asking. Real HTTP servers on 127.0.0.1 stand in for OpenAI
(tests/fake_services.py); the server and its job queue are the real ones."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from opendream.core.registry import REGISTRY
from tests.fake_services import FakeService, openai_images, png_b64, serve
from tests.server_fixtures import BASE, make_app, wait_idle

KEY = "sk-consent-0123456789abcdefSECRET"


@pytest.fixture
def openai() -> Iterator[FakeService]:
    pytest.importorskip("openai", reason="dalle needs the openai SDK (the remote extra)")
    with serve(FakeService()) as service:
        yield openai_images(service)


def dalle_layer(index: int, prompt: str, result: str | None = None) -> dict:
    layer = {
        "id": f"L{index}",
        "name": f"dalle {index}",
        "kind": "image",
        "op": "dalle",
        "op_version": "1",
        "params": {"prompt": prompt, "model": "dall-e-2", "size": "256x256", "num_images": 1},
        "inputs": {},
        "visible": True,
        "opacity": 1.0,
    }
    if result is not None:
        layer["result"] = result
    return layer


def workflow(layers: list[dict], assets: dict | None = None) -> bytes:
    return json.dumps(
        {
            "format": "opendream.workflow",
            "version": 1,
            "name": "from a stranger",
            "canvas": {"width": 256, "height": 256},
            "layers": layers,
            "assets": assets or {},
        }
    ).encode()


def import_file(client: TestClient, data: bytes) -> dict:
    response = client.post("/api/projects/import", files={"file": ("w.json", data, "application/json")})
    assert response.status_code == 201, response.text
    return response.json()


def test_ops_declare_that_they_call_a_remote_service(tmp_path: Path) -> None:
    assert REGISTRY.get("dalle").remote and "OpenAI" in (REGISTRY.get("dalle").service or "")
    assert REGISTRY.get("serverless").remote and not REGISTRY.get("dream").remote
    with TestClient(make_app(tmp_path / "data"), base_url=BASE) as client:
        ops = {op["name"]: op for op in client.get("/api/ops").json()["ops"]}
    assert ops["dalle"]["remote"] is True and "OpenAI" in ops["dalle"]["service"]
    assert ops["dream"]["remote"] is False and ops["dream"]["service"] is None


def test_importing_a_file_sends_nothing_until_the_user_confirms(tmp_path: Path, openai: FakeService) -> None:
    """Importing once queued every dalle layer: the listener got the file's prompts with
    `Authorization: Bearer <the user's key>`, one billed call per layer."""
    app = make_app(tmp_path / "data", openai_api_key=KEY, openai_base_url=f"{openai.url}/v1")
    carried = base64.b64decode(png_b64((1, 2, 3), (256, 256)))
    kept = "sha256:" + hashlib.sha256(carried).hexdigest()
    layers = [dalle_layer(i, f"prompt {i}") for i in (1, 2, 3)] + [dalle_layer(4, "kept", kept)]
    assets = {kept: "data:image/png;base64," + base64.b64encode(carried).decode()}
    with TestClient(app, base_url=BASE) as client:
        imported = import_file(client, workflow(layers, assets))
        pid = imported["project"]["id"]
        time.sleep(1.0)  # the worker polls: give it every chance to (wrongly) run something
        assert openai.requests == [], "nothing is sent before the user confirms"
        assert imported["jobs"] == []
        assert [(c["layer"], c["op"]) for c in imported["consent"]] == [
            ("L1", "dalle"),
            ("L2", "dalle"),
            ("L3", "dalle"),
        ]
        assert all("OpenAI" in c["reason"] for c in imported["consent"])
        project = client.get(f"/api/projects/{pid}").json()
        statuses = {x["id"]: x["status"] for x in project["layers"]}
        assert statuses == {"L1": "pending", "L2": "pending", "L3": "pending", "L4": "ready"}

        # Nothing else the client does runs them behind the user's back.
        assert client.post(f"/api/projects/{pid}/undo").status_code in (200, 409)
        report = client.post(f"/api/projects/{pid}/replay", json={"timeout": 1}).json()
        assert {x["layer"]: x["result"] for x in report["layers"]}["L1"] == "waiting for consent"
        time.sleep(0.5)
        assert openai.requests == []
        assert [c["layer"] for c in client.get(f"/api/projects/{pid}/consent").json()] == ["L1", "L2", "L3"]

        bad = client.post(f"/api/projects/{pid}/consent", json={"layers": ["L4"]})
        assert bad.status_code == 400 and "not waiting for consent: L4" in bad.json()["detail"]
        # The user agrees to one, then to the rest.
        granted = client.post(f"/api/projects/{pid}/consent", json={"layers": ["L2"]})
        assert granted.status_code == 200 and [c["layer"] for c in granted.json()["consent"]] == ["L1", "L3"]
        wait_idle(client, pid)
        assert [r.json()["prompt"] for r in openai.requests] == ["prompt 2"]
        client.post(f"/api/projects/{pid}/consent")
        wait_idle(client, pid)
        assert sorted(r.json()["prompt"] for r in openai.requests) == ["prompt 1", "prompt 2", "prompt 3"]
        assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in openai.requests)
        project = client.get(f"/api/projects/{pid}").json()
        assert {x["status"] for x in project["layers"]} == {"ready"}
        assert client.get(f"/api/projects/{pid}/consent").json() == []
    app.state.opendream.workspace.close()


def test_a_layer_the_user_edits_is_theirs_and_runs(tmp_path: Path, openai: FakeService) -> None:
    app = make_app(tmp_path / "data", openai_api_key=KEY, openai_base_url=f"{openai.url}/v1")
    with TestClient(app, base_url=BASE) as client:
        pid = import_file(client, workflow([dalle_layer(1, "from the file")]))["project"]["id"]
        edited = client.patch(f"/api/projects/{pid}/layers/L1", json={"params": {"prompt": "my own"}})
        assert edited.status_code == 200, edited.text
        wait_idle(client, pid)
        assert [r.json()["prompt"] for r in openai.requests] == ["my own"]
    app.state.opendream.workspace.close()


def test_cli_run_needs_allow_remote(tmp_path: Path, openai: FakeService, monkeypatch) -> None:
    from opendream.cli import app as cli

    monkeypatch.setenv("OPENDREAM_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENDREAM_OPENAI_BASE_URL", f"{openai.url}/v1")
    path = tmp_path / "w.json"
    path.write_bytes(workflow([dalle_layer(1, "a"), dalle_layer(2, "b")]))
    runner = CliRunner()
    result = runner.invoke(cli, ["run", str(path), "--data-dir", str(tmp_path / "d1"), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [x["outcome"] for x in report["layers"]] == ["needs consent", "needs consent"]
    assert "--allow-remote" in result.stderr and openai.requests == []

    result = runner.invoke(
        cli, ["run", str(path), "--data-dir", str(tmp_path / "d2"), "--json", "--allow-remote"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(r.json()["prompt"] for r in openai.requests) == ["a", "b"]


def _kept_result() -> tuple[str, dict]:
    carried = base64.b64decode(png_b64((1, 2, 3), (256, 256)))
    kept = "sha256:" + hashlib.sha256(carried).hexdigest()
    return kept, {kept: "data:image/png;base64," + base64.b64encode(carried).decode()}


def test_a_forced_replay_keeps_a_file_layers_result_until_the_user_consents(
    tmp_path: Path, openai: FakeService
) -> None:
    """A forced replay of a file's remote layer that has its result marked it pending: the
    result was hidden although nothing could run. It stays ready; nothing is sent."""
    app = make_app(tmp_path / "data", openai_api_key=KEY, openai_base_url=f"{openai.url}/v1")
    kept, assets = _kept_result()
    with TestClient(app, base_url=BASE) as client:
        pid = import_file(client, workflow([dalle_layer(1, "kept", kept)], assets))["project"]["id"]
        report = client.post(f"/api/projects/{pid}/replay", json={"force": True, "timeout": 10}).json()
        assert [(x["status"], x["result"]) for x in report["layers"]] == [("ready", "exact")]
        (layer,) = client.get(f"/api/projects/{pid}").json()["layers"]
        assert (layer["status"], layer["blob"]) == ("ready", kept.removeprefix("sha256:"))
        assert openai.requests == []
    app.state.opendream.workspace.close()


def test_cli_forced_run_keeps_a_file_layers_result_without_allow_remote(
    tmp_path: Path, openai: FakeService, monkeypatch
) -> None:
    from opendream.cli import app as cli

    monkeypatch.setenv("OPENDREAM_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENDREAM_OPENAI_BASE_URL", f"{openai.url}/v1")
    kept, assets = _kept_result()
    path = tmp_path / "w.json"
    path.write_bytes(workflow([dalle_layer(1, "kept", kept)], assets))
    data = tmp_path / "d"
    result = CliRunner().invoke(cli, ["run", str(path), "--data-dir", str(data), "--json", "--force"])
    (row,) = json.loads(result.stdout)["layers"]
    assert (row["outcome"], row["result"], row["blob"]) == (
        "needs consent",
        "exact",
        kept.removeprefix("sha256:"),
    )
    assert result.exit_code == 0 and "--allow-remote" in result.stderr and openai.requests == []


def test_a_deleted_projects_consent_rows_go_with_it(tmp_path: Path, openai: FakeService) -> None:
    """Rows of `file_layers` (and the file's expected results) outlived their project."""
    from opendream.engine.consent import recipe_digest
    from opendream.storage.consent import ConsentStore

    app = make_app(tmp_path / "data", openai_api_key=KEY, openai_base_url=f"{openai.url}/v1")
    db = app.state.opendream.workspace.data.db
    store = app.state.opendream.store
    with TestClient(app, base_url=BASE) as client:
        pid = import_file(client, workflow([dalle_layer(1, "a"), dalle_layer(2, "b")]))["project"]["id"]
        client.post(f"/api/projects/{pid}/consent", json={"layers": ["L2"]})
        wait_idle(client, pid)
        digests = {x.id: recipe_digest(x.recipe) for x in app.state.opendream.workspace.load(pid).layers}
        consent = ConsentStore(db)
        assert [consent.lookup(pid, i, d) for i, d in digests.items()] == [(True, False), (True, True)]
        assert store.get_expected(pid)[0] != {}
        assert client.delete(f"/api/projects/{pid}").status_code == 204
        assert [consent.lookup(pid, i, d) for i, d in digests.items()] == [(False, False), (False, False)]
        assert consent.waiting(pid) == [] and store.get_expected(pid) == ({}, None)
    app.state.opendream.workspace.close()
