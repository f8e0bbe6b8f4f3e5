"""The job queue: failures, cancellation (REST and WebSocket), events, start-up recovery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from opendream.core.project import Project
from opendream.server.jobs import JobQueue
from opendream.storage.jobs import INTERRUPTED, JobStore
from tests.server_fixtures import BASE, WS, make_app, new_project, png_bytes, upload, wait_for, wait_idle


def _add(client: TestClient, pid: str, op: str, **body: Any) -> dict:
    response = client.post(f"/api/projects/{pid}/layers", json={"op": op, **body})
    assert response.status_code == 201, response.text
    return response.json()


def _receive_until(ws: WebSocketTestSession, wanted: str, job: str | None = None) -> list[dict]:
    seen = []
    while True:
        event = ws.receive_json()
        seen.append(event)
        job_id = event.get("job", {}).get("id") if isinstance(event.get("job"), dict) else event.get("job")
        if event["type"] == wanted and (job is None or job_id == job):
            return seen


def test_a_failing_op_fails_its_layer_and_the_worker_carries_on(client: TestClient) -> None:
    pid = new_project(client)["id"]
    failing = _add(client, pid, "server_test_fail", params={"message": "kaput"})
    fine = _add(client, pid, "server_test_slow", params={"steps": 2})
    project = wait_idle(client, pid)
    assert [(x["status"], x["run"]["error"]) for x in project["layers"]] == [
        ("failed", "RuntimeError: kaput"),
        ("ready", None),
    ]
    assert client.get(f"/api/jobs/{failing['jobs'][0]['id']}").json()["state"] == "failed"
    assert client.get(f"/api/jobs/{fine['jobs'][0]['id']}").json()["state"] == "completed"


def test_a_layer_made_from_a_failed_layer_fails_with_the_reason(client: TestClient) -> None:
    pid = new_project(client)["id"]
    _add(client, pid, "server_test_fail")
    _add(client, pid, "server_test_tint", inputs={"image": "L1"})
    layers = wait_idle(client, pid)["layers"]
    assert layers[1]["status"] == "failed"
    assert "L1" in layers[1]["run"]["error"]


def test_cancel_a_running_job_over_rest(client: TestClient) -> None:
    pid = new_project(client)["id"]
    job = _add(client, pid, "server_test_slow", params={"steps": 2000, "delay": 0.01})["jobs"][0]
    wait_for(lambda: client.get(f"/api/jobs/{job['id']}").json()["state"] == "running", what="running")
    assert client.post(f"/api/jobs/{job['id']}/cancel").status_code == 200
    done = wait_for(
        lambda: (j := client.get(f"/api/jobs/{job['id']}").json())["state"] == "cancelled" and j,
        what="cancel",
    )
    assert done["finished_at"] is not None
    assert wait_idle(client, pid)["layers"][0]["status"] == "cancelled"
    # Cancelling a finished job changes nothing.
    assert client.post(f"/api/jobs/{job['id']}/cancel").json()["state"] == "cancelled"


def test_cancel_a_queued_job(client: TestClient) -> None:
    pid = new_project(client)["id"]
    first = _add(client, pid, "server_test_slow", params={"steps": 2000, "delay": 0.01})["jobs"][0]
    second = _add(client, pid, "server_test_slow", params={"steps": 1, "seed": 3})["jobs"][0]
    assert client.post(f"/api/jobs/{second['id']}/cancel").json()["state"] == "cancelled"
    client.post(f"/api/jobs/{first['id']}/cancel")
    layers = wait_idle(client, pid)["layers"]
    assert [x["status"] for x in layers] == ["cancelled", "cancelled"]
    jobs = client.get("/api/jobs", params={"project": pid, "status": "cancelled"}).json()
    assert {j["id"] for j in jobs} == {first["id"], second["id"]}


def test_websocket_streams_job_and_layer_events(client: TestClient) -> None:
    pid = new_project(client)["id"]
    with client.websocket_connect(WS) as ws:
        job = _add(client, pid, "server_test_slow", params={"steps": 3})["jobs"][0]
        seen = _receive_until(ws, "job.completed", job["id"])
    types = [e["type"] for e in seen]
    for wanted in ("project.changed", "job.queued", "job.started", "job.progress", "layer.changed"):
        assert wanted in types, types
    progress = [e for e in seen if e["type"] == "job.progress"]
    assert [(e["step"], e["total"]) for e in progress] == [(1, 3), (2, 3), (3, 3)]
    assert progress[0]["preview"].startswith("/9j/")  # base64 of a JPEG
    ready = [e for e in seen if e["type"] == "layer.changed" and e["layers"]][-1]
    assert ready["layers"][0]["status"] == "ready"


def test_model_downloads_are_reported_on_the_job(client: TestClient) -> None:
    pid = new_project(client)["id"]
    with client.websocket_connect(WS) as ws:
        job = _add(client, pid, "server_test_download", params={"chunks": 3})["jobs"][0]
        seen = _receive_until(ws, "job.completed", job["id"])
    downloads = [e for e in seen if e["type"] == "job.download"]
    assert [(e["done_bytes"], e["total_bytes"]) for e in downloads] == [
        (1000, 3000),
        (2000, 3000),
        (3000, 3000),
    ]
    assert {e["job"] for e in downloads} == {job["id"]} and downloads[0]["layers"] == [job["layer_id"]]


def test_cancel_over_the_websocket(client: TestClient) -> None:
    pid = new_project(client)["id"]
    with client.websocket_connect(WS) as ws:
        job = _add(client, pid, "server_test_slow", params={"steps": 5000, "delay": 0.01})["jobs"][0]
        _receive_until(ws, "job.started", job["id"])
        ws.send_json({"type": "cancel", "job": job["id"]})
        seen = _receive_until(ws, "job.cancelled", job["id"])
        assert any(e["type"] == "cancel.accepted" for e in seen)
        ws.send_text("not json")
        assert _receive_until(ws, "error")[-1]["detail"] == "messages are JSON objects"
        ws.send_json({"type": "cancel", "job": "nope"})
        assert "no job" in _receive_until(ws, "error")[-1]["detail"]


@pytest.mark.parametrize(
    ("message", "detail"),
    [
        ("[1, 2]", "messages are JSON objects"),
        ('{"type": "pause", "job": "x"}', 'the only message is {"type": "cancel", "job": "<id>"}'),
        (
            '{"type": "cancel", "job": "x", "also": 1}',
            'the only message is {"type": "cancel", "job": "<id>"}',
        ),
        ('{"type": "cancel", "job": ""}', "`job` has to be a job id"),
        ('{"type": "cancel", "job": 7}', "`job` has to be a job id"),
        ('{"type": "cancel", "job": "' + "x" * 65 + '"}', "`job` has to be a job id"),
        (" " * 4097, "messages are at most 4096 characters"),
    ],
)
def test_a_websocket_message_the_server_cannot_act_on_is_answered_by_an_error(
    client: TestClient, message: str, detail: str
) -> None:
    with client.websocket_connect(WS) as ws:
        ws.send_text(message)
        assert _receive_until(ws, "error")[-1] == {"type": "error", "detail": detail}


def test_edit_while_running_supersedes_the_running_job(client: TestClient) -> None:
    pid = new_project(client)["id"]
    job = _add(client, pid, "server_test_slow", params={"steps": 2000, "delay": 0.01})["jobs"][0]
    wait_for(lambda: client.get(f"/api/jobs/{job['id']}").json()["state"] == "running", what="running")
    patched = client.patch(f"/api/projects/{pid}/layers/L1", json={"params": {"steps": 2}})
    assert patched.status_code == 200, patched.text
    project = wait_idle(client, pid)
    assert project["layers"][0]["status"] == "ready"
    assert project["layers"][0]["recipe"]["params"]["steps"] == 2
    assert client.get(f"/api/jobs/{job['id']}").json()["state"] == "cancelled"


def test_start_up_marks_jobs_left_running_as_interrupted(tmp_path: Path) -> None:
    first = make_app(tmp_path)
    with TestClient(first, base_url=BASE) as client:
        pid = new_project(client)["id"]
        upload(client, pid, png_bytes())
        wait_idle(client, pid)
    state = first.state.opendream
    # Simulate a crash mid-job: a job row left `running` and its layers `running`.
    spec = state.workspace.registry.get("server_test_slow")
    _, layer = state.service.update(pid, lambda p: p.add_layer(spec, {}, {}))
    store: JobStore = state.store
    job = store.enqueue(pid, layer.id, "server_test_slow")
    assert store.claim_next()["id"] == job["id"]
    state.service.update(pid, lambda p: p.mark([layer.id], "running"))
    state.workspace.close()

    second = make_app(tmp_path)
    with TestClient(second, base_url=BASE) as client:
        recovered = client.get(f"/api/jobs/{job['id']}").json()
        assert (recovered["state"], recovered["error"]) == ("failed", INTERRUPTED)
        layers = client.get(f"/api/projects/{pid}").json()["layers"]
        assert [(x["id"], x["status"]) for x in layers] == [("L1", "ready"), (layer.id, "stale")]
    second.state.opendream.workspace.close()


def test_submit_skips_groups_already_queued(client: TestClient) -> None:
    queue: JobQueue = client.app.state.opendream.queue  # type: ignore[attr-defined]
    pid = new_project(client)["id"]
    _add(client, pid, "server_test_slow", params={"steps": 2000, "delay": 0.01})
    second = _add(client, pid, "server_test_slow", params={"steps": 1})
    project = Project.from_dict(client.app.state.opendream.workspace.data.db.load_project(pid))  # type: ignore[attr-defined]
    assert queue.submit(project, ["L2"]) == []
    for job in client.get("/api/jobs", params={"project": pid}).json():
        client.post(f"/api/jobs/{job['id']}/cancel")
    assert second["jobs"][0]["state"] == "queued"
    wait_idle(client, pid)


def test_a_clean_shutdown_interrupts_the_running_job(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    with TestClient(app, base_url=BASE) as client:
        pid = new_project(client)["id"]
        job = _add(client, pid, "server_test_slow", params={"steps": 5000, "delay": 0.01})["jobs"][0]
        wait_for(lambda: client.get(f"/api/jobs/{job['id']}").json()["state"] == "running", what="running")
    store: JobStore = app.state.opendream.store
    stopped = store.get(job["id"])
    assert (stopped["state"], stopped["error"]) == ("failed", INTERRUPTED)
    layer = app.state.opendream.service.load(pid).layer(job["layer_id"])
    assert layer.status == "stale"
    app.state.opendream.workspace.close()
