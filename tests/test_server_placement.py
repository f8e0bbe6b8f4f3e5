"""Placement, blend modes, layer masks and canvas size over the HTTP API (issue 16): one undo
step each, no job, the export draws them, the workflow carries them, bad input changes nothing."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.server_fixtures import new_project, png_bytes, upload, wait_idle

RED, BLUE = (200, 30, 30), (20, 40, 220)


@pytest.fixture
def pid(client: TestClient) -> str:
    """A 32x24 canvas: L1 blue 32x24, L2 red 8x8, L3 a white 8x8 mask with a black left half."""
    project = new_project(client, name="placed", width=32, height=24)["id"]
    upload(client, project, png_bytes((32, 24), BLUE))
    upload(client, project, png_bytes((8, 8), RED))
    mask = Image.new("L", (8, 8), 255)
    mask.paste(0, (0, 0, 4, 8))
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    upload(client, project, buffer.getvalue(), route="masks")
    wait_idle(client, project)
    return project


def export(client: TestClient, pid: str) -> np.ndarray:
    response = client.get(f"/api/projects/{pid}/export.png")
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGBA"))


def patch(client: TestClient, pid: str, layer: str, **body):
    return client.patch(f"/api/projects/{pid}/layers/{layer}", json=body)


def jobs(client: TestClient, pid: str) -> int:
    return len(client.get("/api/jobs", params={"project": pid}).json())


def test_moving_a_layer_moves_it_in_the_export_and_runs_nothing(client: TestClient, pid: str) -> None:
    before = jobs(client, pid)
    response = patch(client, pid, "L2", placement={"x": 20, "y": 10})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["layers"] == [] and body["jobs"] == []
    layer = next(x for x in body["project"]["layers"] if x["id"] == "L2")
    assert layer["placement"] == {"x": 20, "y": 10, "scale": 1.0, "flip_x": False, "flip_y": False}
    assert layer["status"] == "ready"
    assert body["project"]["undo_label"] == "Move “a.png” on the canvas"
    assert jobs(client, pid) == before
    pixels = export(client, pid)
    assert tuple(pixels[10, 20, :3]) == RED and tuple(pixels[17, 27, :3]) == RED
    assert tuple(pixels[0, 0, :3]) == BLUE and tuple(pixels[9, 20, :3]) == BLUE
    client.post(f"/api/projects/{pid}/undo")
    assert tuple(export(client, pid)[0, 0, :3]) == RED


def test_scale_blend_and_layer_mask_in_the_export(client: TestClient, pid: str) -> None:
    assert patch(client, pid, "L2", placement={"scale": 2, "x": 4}).status_code == 200
    assert patch(client, pid, "L2", mask="L3").status_code == 200
    assert patch(client, pid, "L2", blend="screen").status_code == 200
    pixels = export(client, pid)
    screen = tuple(round(b + s - b * s / 255) for b, s in zip(BLUE, RED, strict=True))
    assert tuple(pixels[5, 4 + 12, :3]) == screen  # the mask's white half, scaled with the layer
    assert tuple(pixels[5, 4 + 2, :3]) == BLUE  # its black half hides the layer
    assert tuple(pixels[20, 4 + 12, :3]) == BLUE  # below the 16 px scaled layer
    detached = patch(client, pid, "L2", mask=None).json()["project"]
    assert next(x for x in detached["layers"] if x["id"] == "L2")["mask"] is None
    assert tuple(export(client, pid)[5, 6, :3]) == screen


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"placement": {"scale": 0}}, "scale"),
        ({"placement": {"scale": -2}}, "scale"),
        ({"placement": {"x": 1.5}}, "x"),
        ({"placement": {"x": 129}}, "[-128, 128] (4 canvases)"),
        ({"placement": {"rotation": 90}}, "rotation"),
        ({"placement": {}}, "placement"),
        ({"blend": "darken"}, "blend"),
        ({"mask": "L1"}, "'L1' is an image layer"),
        ({"mask": "L9"}, "no layer 'L9'"),
    ],
)
def test_bad_presentation_changes_are_refused_and_change_nothing(
    client: TestClient, pid: str, body: dict, words: str
) -> None:
    before = client.get(f"/api/projects/{pid}").json()
    response = patch(client, pid, "L2", **body)
    assert response.status_code == 422, response.text
    assert words in response.text
    assert client.get(f"/api/projects/{pid}").json() == before


def test_a_mask_layer_takes_no_layer_mask(client: TestClient, pid: str) -> None:
    response = patch(client, pid, "L3", mask="L3")
    assert response.status_code == 422
    assert "an image layer takes a layer mask" in response.text


def test_resizing_the_canvas_with_an_anchor_then_undo(client: TestClient, pid: str) -> None:
    response = client.post(
        f"/api/projects/{pid}/canvas", json={"width": 40, "height": 40, "anchor": "bottom-right"}
    )
    assert response.status_code == 200, response.text
    project = response.json()
    assert (project["width"], project["height"]) == (40, 40)
    assert [x["placement"]["x"] for x in project["layers"]] == [8, 8, 8]
    assert [x["placement"]["y"] for x in project["layers"]] == [16, 16, 16]
    assert all(x["status"] == "ready" for x in project["layers"])
    pixels = export(client, pid)
    assert pixels.shape == (40, 40, 4)
    assert pixels[0, 0, 3] == 0 and tuple(pixels[39, 39, :3]) == BLUE and tuple(pixels[16, 8, :3]) == RED
    undone = client.post(f"/api/projects/{pid}/undo").json()
    assert (undone["width"], undone["height"]) == (32, 24)
    assert all(x["placement"]["x"] == 0 for x in undone["layers"])


def test_crop_and_fit_to_a_layer(client: TestClient, pid: str) -> None:
    patch(client, pid, "L2", placement={"x": 10, "y": 6, "scale": 1.5})
    fitted = client.post(f"/api/projects/{pid}/canvas", json={"fit": "L2"}).json()
    assert (fitted["width"], fitted["height"]) == (12, 12)
    assert [x["placement"]["x"] for x in fitted["layers"]] == [-10, 0, -10]
    assert tuple(export(client, pid)[11, 11, :3]) == RED
    client.post(f"/api/projects/{pid}/undo")
    cropped = client.post(
        f"/api/projects/{pid}/canvas", json={"crop": {"x": -4, "y": 2, "width": 16, "height": 8}}
    )
    assert cropped.status_code == 200, cropped.text
    project = cropped.json()
    assert (project["width"], project["height"]) == (16, 8)
    assert export(client, pid).shape == (8, 16, 4)


def test_fit_needs_a_layer_with_pixels_that_makes_a_valid_canvas(client: TestClient, pid: str) -> None:
    patch(client, pid, "L2", placement={"scale": 0.5})  # 4x4: smaller than the smallest canvas
    response = client.post(f"/api/projects/{pid}/canvas", json={"fit": "L2"})
    assert response.status_code == 422, response.text
    assert "has to be an integer in [8, 8192]" in response.text
    assert client.post(f"/api/projects/{pid}/canvas", json={"fit": "L9"}).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"width": 40},
        {"width": 40, "height": 40, "crop": {"x": 0, "y": 0, "width": 8, "height": 8}},
        {"fit": "L1", "width": 40, "height": 40},
        {"width": 40, "height": 40, "anchor": "middle"},
        {"width": 4, "height": 40},
        {"crop": {"x": 0, "y": 0, "width": 8}},
        {},
    ],
)
def test_bad_canvas_changes_are_refused_and_change_nothing(client: TestClient, pid: str, body: dict) -> None:
    before = client.get(f"/api/projects/{pid}").json()
    response = client.post(f"/api/projects/{pid}/canvas", json=body)
    assert response.status_code == 422, response.text
    assert client.get(f"/api/projects/{pid}").json() == before


def test_the_workflow_carries_placement_blend_and_layer_mask(client: TestClient, pid: str) -> None:
    patch(client, pid, "L2", placement={"x": -3, "y": 5, "flip_x": True})
    patch(client, pid, "L2", blend="multiply")
    patch(client, pid, "L2", mask="L3")
    client.post(f"/api/projects/{pid}/canvas", json={"width": 48, "height": 24, "anchor": "left"})
    document = client.get(f"/api/projects/{pid}/workflow").json()
    assert document["version"] == 2 and document["canvas"] == {"width": 48, "height": 24}
    red = document["layers"][1]
    assert red["placement"] == {"x": -3, "y": 5, "scale": 1.0, "flip_x": True, "flip_y": False}
    assert (red["blend"], red["mask"]) == ("multiply", "L3")
    imported = client.post(
        "/api/projects/import", files={"file": ("w.json", json.dumps(document).encode(), "application/json")}
    )
    assert imported.status_code == 201, imported.text
    new_id = imported.json()["project"]["id"]
    wait_idle(client, new_id)
    assert np.array_equal(export(client, new_id), export(client, pid))
