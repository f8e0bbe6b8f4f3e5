from __future__ import annotations

from fastapi.testclient import TestClient

from tests.server_fixtures import mask_bytes, new_project, png_bytes, upload, wait_idle


def test_health_reports_version_device_and_tiny_models(client: TestClient) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["device"] == "cpu"
    assert body["tiny_models"] is False
    assert body["workers"] == 1


def test_ops_lists_schemas_and_origin(client: TestClient) -> None:
    body = client.get("/api/ops").json()
    ops = {o["name"]: o for o in body["ops"]}
    assert ops["load_image"]["extension"] == "builtin"
    assert ops["feather_mask"]["schema"]["properties"]["mask"]["x-opendream-layer"] == "mask"
    assert "server_test_slow" in ops


def test_project_crud(client: TestClient) -> None:
    project = new_project(client, width=64, height=32)
    assert (project["width"], project["height"], project["layers"]) == (64, 32, [])
    listed = client.get("/api/projects").json()
    assert [p["id"] for p in listed] == [project["id"]]
    renamed = client.patch(f"/api/projects/{project['id']}", json={"name": "beach"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "beach"
    assert client.delete(f"/api/projects/{project['id']}").status_code == 204
    missing = client.get(f"/api/projects/{project['id']}")
    assert missing.status_code == 404
    assert "no project" in missing.json()["detail"]


def test_upload_runs_a_load_image_layer(client: TestClient) -> None:
    project = new_project(client)
    response = upload(client, project["id"], png_bytes())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["layers"] == ["L1"]
    assert [j["op"] for j in body["jobs"]] == ["load_image"]
    done = wait_idle(client, project["id"])
    layer = done["layers"][0]
    assert layer["status"] == "ready"
    assert layer["name"] == "a.png"
    blob = client.get(f"/api/blobs/{layer['blob']}")
    assert blob.status_code == 200
    assert blob.headers["content-type"] == "image/png"
    assert "immutable" in blob.headers["cache-control"]
    thumb = client.get(f"/api/blobs/{layer['blob']}", params={"thumb": 1})
    assert thumb.status_code == 200


def test_mask_upload_makes_a_mask_layer(client: TestClient) -> None:
    project = new_project(client)
    response = upload(client, project["id"], png_bytes(colour=(255, 255, 255)), route="masks")
    assert response.status_code == 201, response.text
    layer = wait_idle(client, project["id"])["layers"][0]
    assert (layer["kind"], layer["status"], layer["recipe"]["op"]) == ("mask", "ready", "paint_mask")


def _mask_chain(client: TestClient) -> tuple[str, dict]:
    project = new_project(client)
    pid = project["id"]
    upload(client, pid, mask_bytes(), route="masks")
    feather = client.post(
        f"/api/projects/{pid}/layers",
        json={"op": "feather_mask", "params": {"radius": 2}, "inputs": {"mask": "L1"}},
    )
    assert feather.status_code == 201, feather.text
    invert = client.post(f"/api/projects/{pid}/layers", json={"op": "invert_mask", "inputs": {"mask": "L2"}})
    assert invert.status_code == 201, invert.text
    return pid, wait_idle(client, pid)


def test_layers_from_ops_form_a_chain(client: TestClient) -> None:
    _, project = _mask_chain(client)
    assert [(x["id"], x["status"]) for x in project["layers"]] == [
        ("L1", "ready"),
        ("L2", "ready"),
        ("L3", "ready"),
    ]


def test_recipe_patch_reruns_the_layer_and_descendants(client: TestClient) -> None:
    pid, before = _mask_chain(client)
    response = client.patch(f"/api/projects/{pid}/layers/L2", json={"params": {"radius": 5}})
    assert response.status_code == 200, response.text
    assert response.json()["layers"] == ["L2", "L3"]
    after = wait_idle(client, pid)
    blobs = {x["id"]: x["blob"] for x in before["layers"]}
    new = {x["id"]: x["blob"] for x in after["layers"]}
    assert new["L1"] == blobs["L1"]
    assert new["L2"] != blobs["L2"] and new["L3"] != blobs["L3"]
    assert all(x["status"] == "ready" for x in after["layers"])


def test_presentation_patch_and_undo_redo(client: TestClient) -> None:
    pid, _ = _mask_chain(client)
    patched = client.patch(
        f"/api/projects/{pid}/layers/L3",
        json={"name": "inv", "visible": False, "opacity": 0.5, "position": 0},
    )
    assert patched.status_code == 200, patched.text
    layers = patched.json()["project"]["layers"]
    assert layers[0] == {**layers[0], "id": "L3", "name": "inv", "visible": False, "opacity": 0.5}
    undone = client.post(f"/api/projects/{pid}/undo")
    assert undone.status_code == 200
    assert [x["id"] for x in undone.json()["layers"]] == ["L1", "L2", "L3"]
    redone = client.post(f"/api/projects/{pid}/redo").json()
    assert [x["id"] for x in redone["layers"]] == ["L3", "L1", "L2"]
    assert client.post(f"/api/projects/{pid}/redo").status_code == 409


def test_delete_dry_run_lists_descendants_and_changes_nothing(client: TestClient) -> None:
    pid, before = _mask_chain(client)
    dry = client.delete(f"/api/projects/{pid}/layers/L2", params={"dry_run": "true"}).json()
    assert dry["deleted"] == ["L2", "L3"]
    assert client.get(f"/api/projects/{pid}").json()["revision"] == before["revision"]
    real = client.delete(f"/api/projects/{pid}/layers/L2").json()
    assert real["deleted"] == ["L2", "L3"]
    assert [x["id"] for x in real["project"]["layers"]] == ["L1"]
    restored = client.post(f"/api/projects/{pid}/undo").json()
    assert [x["id"] for x in restored["layers"]] == ["L1", "L2", "L3"]


def test_undo_and_redo_say_what_they_take_back(client: TestClient) -> None:
    pid = new_project(client)["id"]
    assert upload(client, pid, png_bytes()).status_code == 201
    assert client.get(f"/api/projects/{pid}").json()["undo_label"] == "Add layer “a.png”"
    assert client.delete(f"/api/projects/{pid}/layers/L1").status_code == 200
    shown = client.get(f"/api/projects/{pid}").json()
    assert (shown["undo_label"], shown["redo_label"]) == ("Delete layer “a.png”", None)
    undone = client.post(f"/api/projects/{pid}/undo").json()
    assert (undone["undo_label"], undone["redo_label"]) == ("Add layer “a.png”", "Delete layer “a.png”")
    redone = client.post(f"/api/projects/{pid}/redo").json()
    assert (redone["undo_label"], redone["redo_label"]) == ("Delete layer “a.png”", None)
