"""The project list tells projects apart: size, layer count, a thumbnail; imports get unique names."""

from __future__ import annotations

from fastapi.testclient import TestClient

from opendream.core.project import MAX_NAME, unique_name
from tests.server_fixtures import mask_bytes, new_project, png_bytes, upload, wait_idle


def _summary(client: TestClient, project_id: str) -> dict:
    return next(p for p in client.get("/api/projects").json() if p["id"] == project_id)


def test_the_list_gives_size_layer_count_and_the_top_visible_image_as_thumbnail(client: TestClient) -> None:
    project = new_project(client, name="beach", width=64, height=48)
    empty = _summary(client, project["id"])
    assert (empty["width"], empty["height"], empty["layer_count"], empty["thumbnail"]) == (64, 48, 0, None)

    bottom = upload(client, project["id"], png_bytes(colour=(0, 0, 255)), name="sea.png").json()
    top = upload(client, project["id"], png_bytes(colour=(255, 0, 0)), name="sun.png").json()
    upload(client, project["id"], mask_bytes(), route="masks")  # a mask on top is no thumbnail
    layers = {x["id"]: x for x in wait_idle(client, project["id"])["layers"]}
    top_id, bottom_id = top["layers"][0], bottom["layers"][0]
    summary = _summary(client, project["id"])
    assert summary["layer_count"] == 3
    assert summary["thumbnail"] == layers[top_id]["blob"]
    assert client.get(f"/api/blobs/{summary['thumbnail']}", params={"thumb": 1}).status_code == 200

    # Hidden, the top layer gives way to the one below.
    client.patch(f"/api/projects/{project['id']}/layers/{top_id}", json={"visible": False})
    assert _summary(client, project["id"])["thumbnail"] == layers[bottom_id]["blob"]


def test_importing_a_file_twice_numbers_the_second_project(client: TestClient) -> None:
    project = new_project(client, name="cat", width=64, height=64)
    upload(client, project["id"], png_bytes())
    wait_idle(client, project["id"])
    workflow = client.get(f"/api/projects/{project['id']}/workflow").content
    names = []
    for _ in range(2):
        response = client.post(
            "/api/projects/import", files={"file": ("cat.json", workflow, "application/json")}
        )
        assert response.status_code == 201, response.text
        names.append(response.json()["project"]["name"])
    assert names == ["cat (2)", "cat (3)"]
    assert sorted(p["name"] for p in client.get("/api/projects").json()) == ["cat", "cat (2)", "cat (3)"]


def test_unique_name_numbers_from_two_and_stays_within_the_limit() -> None:
    assert unique_name("cat", set()) == "cat"
    assert unique_name("cat", {"cat", "cat (2)"}) == "cat (3)"
    long = "x" * MAX_NAME
    assert unique_name(long, {long}) == "x" * (MAX_NAME - 4) + " (2)"
