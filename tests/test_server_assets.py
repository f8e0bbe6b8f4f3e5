"""PUT /api/projects/{id}/layers/{lid}/asset: new pixels for a source layer (a re-painted mask
or a replaced picture) re-run the layer and its descendants, as one undo step."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.server_fixtures import blob_count, bomb_png, mask_bytes, new_project, png_bytes, upload, wait_idle


def _put(client: TestClient, pid: str, layer_id: str, data: bytes, name: str = "mask.png"):
    return client.put(
        f"/api/projects/{pid}/layers/{layer_id}/asset", files={"file": (name, data, "image/png")}
    )


def _chain(client: TestClient) -> tuple[str, dict]:
    """L1 a painted mask, L2 = feather(L1), L3 = invert(L2)."""
    pid = new_project(client)["id"]
    assert upload(client, pid, mask_bytes(), route="masks").status_code == 201
    for op, source in (("feather_mask", "L1"), ("invert_mask", "L2")):
        response = client.post(f"/api/projects/{pid}/layers", json={"op": op, "inputs": {"mask": source}})
        assert response.status_code == 201, response.text
    return pid, wait_idle(client, pid)


def _blobs(project: dict) -> dict[str, str]:
    return {x["id"]: x["blob"] for x in project["layers"]}


def test_repainting_a_mask_reruns_it_and_its_descendants_as_one_undo_step(client: TestClient) -> None:
    pid, before = _chain(client)
    repainted = png_bytes((32, 32), (255, 255, 255), mode="RGB")  # stored as mode L all the same
    response = _put(client, pid, "L1", repainted)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["layers"] == ["L1", "L2", "L3"] and len(body["jobs"]) == 3
    head = body["project"]["layers"][0]
    assert head["recipe"]["params"]["asset"] != before["layers"][0]["recipe"]["params"]["asset"]
    assert head["name"] == before["layers"][0]["name"], "the file name does not rename the layer"

    after = wait_idle(client, pid)
    assert all(x["status"] == "ready" for x in after["layers"])
    old, new = _blobs(before), _blobs(after)
    assert all(new[x] != old[x] for x in ("L1", "L2", "L3"))
    stored = client.get(f"/api/blobs/{new['L1']}")
    assert Image.open(io.BytesIO(stored.content)).mode == "L"

    assert client.post(f"/api/projects/{pid}/undo").status_code == 200
    assert _blobs(wait_idle(client, pid)) == old


def test_replacing_a_picture_keeps_its_colours(client: TestClient) -> None:
    pid = new_project(client)["id"]
    upload(client, pid, png_bytes(colour=(200, 30, 30)))
    wait_idle(client, pid)
    response = _put(client, pid, "L1", png_bytes(colour=(10, 20, 250)), name="b.png")
    assert response.status_code == 200, response.text
    layer = wait_idle(client, pid)["layers"][0]
    image = Image.open(io.BytesIO(client.get(f"/api/blobs/{layer['blob']}").content))
    assert image.convert("RGB").getpixel((0, 0)) == (10, 20, 250)


def test_the_same_pixels_change_nothing(client: TestClient) -> None:
    pid, before = _chain(client)
    response = _put(client, pid, "L1", mask_bytes())
    assert response.status_code == 200, response.text
    assert response.json()["layers"] == [] and response.json()["jobs"] == []
    assert response.json()["project"]["revision"] == before["revision"]


def test_a_computed_layer_is_409_and_nothing_stored(client: TestClient) -> None:
    pid, before = _chain(client)
    blobs = blob_count(client)
    response = _put(client, pid, "L2", mask_bytes(16))
    assert response.status_code == 409, response.text
    assert "feather_mask" in response.json()["detail"] and "paint_mask" in response.json()["detail"]
    assert blob_count(client) == blobs
    assert client.get(f"/api/projects/{pid}").json()["revision"] == before["revision"]


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (bomb_png(), "pixels"),
        (png_bytes()[:60], "corrupt or truncated"),
        (b"GIF89a" + b"\0" * 100, "not a PNG, JPEG or WebP"),
        (b"", "empty"),
    ],
    ids=["bomb", "truncated", "gif", "empty"],
)
def test_bad_images_are_415_and_nothing_changes(client: TestClient, data: bytes, needle: str) -> None:
    pid, before = _chain(client)
    blobs = blob_count(client)
    response = _put(client, pid, "L1", data)
    assert response.status_code == 415, response.text
    assert needle in response.json()["detail"]
    assert blob_count(client) == blobs
    assert client.get(f"/api/projects/{pid}").json() == before


def test_unknown_project_or_layer_is_404_and_a_missing_file_422(client: TestClient) -> None:
    pid, _ = _chain(client)
    assert _put(client, "nope", "L1", mask_bytes()).status_code == 404
    missing = _put(client, pid, "L99", mask_bytes())
    assert missing.status_code == 404 and "L99" in missing.json()["detail"]
    response = client.put(f"/api/projects/{pid}/layers/L1/asset", data={"nofile": "x"})
    assert response.status_code == 422 and "file" in response.json()["detail"]
