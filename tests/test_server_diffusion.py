"""The API with tiny models: generate, watch progress, inpaint, edit upstream, replay, cancel."""

from __future__ import annotations

import io
from pathlib import Path

from fastapi.testclient import TestClient
from PIL import Image

from tests.server_fixtures import WS, mask_bytes, new_project, upload, wait_for, wait_idle

DREAM = {"prompt": "a lighthouse", "width": 64, "height": 64, "steps": 3, "seed": 1}


def test_health_says_tiny_models_are_active(tiny_client: TestClient) -> None:
    assert tiny_client.get("/api/health").json()["tiny_models"] is True


def test_dream_without_a_size_takes_the_canvas_size(tiny_client: TestClient) -> None:
    pid = new_project(tiny_client, width=96, height=64)["id"]
    made = tiny_client.post(
        f"/api/projects/{pid}/layers", json={"op": "dream", "params": {"prompt": "a", "steps": 1}}
    )
    assert made.status_code == 201, made.text
    layer = wait_idle(tiny_client, pid, 120)["layers"][0]
    assert layer["status"] == "ready", layer
    assert (layer["recipe"]["params"]["width"], layer["recipe"]["params"]["height"]) == (96, 64)
    image = Image.open(io.BytesIO(tiny_client.get(f"/api/blobs/{layer['blob']}").content))
    assert image.size == (96, 64)


def test_generate_inpaint_edit_and_replay(tiny_client: TestClient, tiny_dir: Path) -> None:
    client = tiny_client
    pid = new_project(client, width=64, height=64)["id"]
    with client.websocket_connect(WS) as ws:
        dream = client.post(f"/api/projects/{pid}/layers", json={"op": "dream", "params": DREAM})
        assert dream.status_code == 201, dream.text
        job_id = dream.json()["jobs"][0]["id"]
        steps, said = [], []
        while True:
            event = ws.receive_json()
            if event["type"] == "job.progress" and event["job"] == job_id:
                steps.append((event["step"], event["total"]))
            if event["type"] == "job.status" and event["job"] == job_id:
                assert not steps, "the status comes before the first step"
                said.append((event["layers"], event["text"]))
            if event["type"] in ("job.completed", "job.failed") and event["job"]["id"] == job_id:
                assert event["type"] == "job.completed", event
                break
    assert steps and steps[-1][0] == steps[-1][1]
    assert said == [(["L1"], f"loading model {tiny_dir / 'txt2img'}")], "the first dream loads the model"
    upload(client, pid, mask_bytes(64), route="masks")
    inpaint = client.post(
        f"/api/projects/{pid}/layers",
        json={
            "op": "mask_and_inpaint",
            "params": {"prompt": "a boat", "steps": 2, "seed": 5},
            "inputs": {"mask_layer": "L2", "image_layer": "L1"},
        },
    )
    assert inpaint.status_code == 201, inpaint.text
    before = {x["id"]: x["blob"] for x in wait_idle(client, pid, 120)["layers"]}
    assert all(before.values()), before

    edited = client.patch(f"/api/projects/{pid}/layers/L1", json={"params": {"seed": 2}})
    assert edited.json()["layers"] == ["L1", "L3"]
    after = wait_idle(client, pid, 120)
    blobs = {x["id"]: x["blob"] for x in after["layers"]}
    assert blobs["L2"] == before["L2"]
    assert blobs["L1"] != before["L1"] and blobs["L3"] != before["L3"]

    document = client.get(f"/api/projects/{pid}/workflow").content
    imported = client.post("/api/projects/import", files={"file": ("w.json", document)})
    assert imported.status_code == 201, imported.text
    report = client.post(f"/api/projects/{imported.json()['project']['id']}/replay", json={"timeout": 120})
    body = report.json()
    assert body["complete"] and body["ok"], body
    assert [x["result"] for x in body["layers"]] == ["exact", "exact", "exact"]


def test_cancel_a_generation(tiny_client: TestClient) -> None:
    client = tiny_client
    pid = new_project(client, width=64, height=64)["id"]
    job = client.post(
        f"/api/projects/{pid}/layers", json={"op": "dream", "params": {**DREAM, "steps": 150}}
    ).json()["jobs"][0]
    wait_for(lambda: client.get(f"/api/jobs/{job['id']}").json()["state"] != "queued", 60, "start")
    client.post(f"/api/jobs/{job['id']}/cancel")
    final = wait_for(
        lambda: (
            (j := client.get(f"/api/jobs/{job['id']}").json())["state"] not in ("queued", "running") and j
        ),
        60,
        "the cancel",
    )
    assert final["state"] == "cancelled", final
    assert wait_idle(client, pid)["layers"][0]["status"] == "cancelled"
