"""Generation regions and outpainting over the HTTP API (issue 16 §3, §4): a region layer at
the model's size, a layer created at a placement, and outpainting with tiny models at the size
the UI proposes, as one undo step whose replay is exact."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.server_fixtures import new_project, upload, wait_idle


def _picture(size: tuple[int, int]) -> bytes:
    """A gradient, so that a shifted or rescaled copy would not match."""
    x = np.linspace(0, 255, size[0], dtype=np.uint8)[None, :].repeat(size[1], 0)
    y = np.linspace(0, 255, size[1], dtype=np.uint8)[:, None].repeat(size[0], 1)
    buffer = io.BytesIO()
    Image.fromarray(np.stack([x, y, 255 - x], axis=-1), "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def _export(client: TestClient, pid: str) -> np.ndarray:
    response = client.get(f"/api/projects/{pid}/export.png")
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGBA"))


@pytest.fixture
def pid(client: TestClient) -> str:
    project = new_project(client, name="regions", width=64, height=48)["id"]
    upload(client, project, _picture((64, 48)))
    wait_idle(client, project)
    return project


def test_a_region_layer_is_taken_at_the_models_size(client: TestClient, pid: str) -> None:
    response = client.post(f"/api/projects/{pid}/regions", json={"x": 8, "y": 8, "width": 32, "height": 24})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["layers"] == ["L2"] and len(body["jobs"]) == 1
    region = next(x for x in body["project"]["layers"] if x["id"] == "L2")
    assert region["visible"] is False and region["recipe"]["op"] == "canvas_region"
    params = region["recipe"]["params"]
    assert (params["output_width"], params["output_height"]) == (576, 432)  # about 512², aspect 4:3
    assert body["project"]["undo_label"] == "Add layer “Region 32×24 at 8, 8”"
    layer = next(x for x in wait_idle(client, pid)["layers"] if x["id"] == "L2")
    assert layer["status"] == "ready"
    taken = Image.open(io.BytesIO(client.get(f"/api/blobs/{layer['blob']}").content))
    assert taken.size == (576, 432)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"x": 40, "y": 8, "width": 32, "height": 24}, 422, "inside the 64x48 canvas"),
        ({"x": 0, "y": 0, "width": 4, "height": 24}, 422, "width"),
        ({"x": 0, "y": 0, "width": 16, "height": 16, "op": "no_such_op"}, 404, "no_such_op"),
        ({"x": -1, "y": 0, "width": 16, "height": 16}, 422, "x"),
    ],
)
def test_bad_regions_change_nothing(
    client: TestClient, pid: str, body: dict, status: int, words: str
) -> None:
    before = client.get(f"/api/projects/{pid}").json()
    response = client.post(f"/api/projects/{pid}/regions", json=body)
    assert response.status_code == status, response.text
    assert words in response.text
    assert client.get(f"/api/projects/{pid}").json() == before


def test_a_layer_is_created_at_a_placement_in_one_undo_step(client: TestClient, pid: str) -> None:
    made = client.post(
        f"/api/projects/{pid}/layers",
        json={
            "op": "load_image",
            "params": {"asset": _asset(client, pid)},
            "placement": {"x": 8, "scale": 0.5},
        },
    )
    assert made.status_code == 201, made.text
    layer = made.json()["project"]["layers"][-1]
    assert layer["placement"] == {"x": 8, "y": 0, "scale": 0.5, "flip_x": False, "flip_y": False}
    undone = client.post(f"/api/projects/{pid}/undo").json()
    assert len(undone["layers"]) == 1
    before = client.get(f"/api/projects/{pid}").json()
    refused = client.post(
        f"/api/projects/{pid}/layers",
        json={"op": "load_image", "params": {"asset": _asset(client, pid)}, "placement": {"scale": 0}},
    )
    assert refused.status_code == 422
    assert client.get(f"/api/projects/{pid}").json() == before


def _asset(client: TestClient, pid: str) -> str:
    return client.get(f"/api/projects/{pid}").json()["layers"][0]["recipe"]["params"]["asset"]


def test_outpaint_needs_a_valid_size_and_inpaint_params(client: TestClient, pid: str) -> None:
    before = client.get(f"/api/projects/{pid}").json()
    for body, words in [
        ({"width": 4, "height": 48}, "width"),
        ({"width": 96, "height": 48, "anchor": "middle"}, "anchor"),
        ({"width": 96, "height": 48, "params": {"steps": 0}}, "steps"),
        ({"width": 96, "height": 48, "grow": -1}, "grow"),
    ]:
        response = client.post(f"/api/projects/{pid}/outpaint", json={"params": {"prompt": "sea"}} | body)
        assert response.status_code == 422, response.text
        assert words in response.text
    assert client.get(f"/api/projects/{pid}").json() == before


def test_outpaint_at_512_fills_the_new_area_keeps_the_old_and_replays_exactly(
    tiny_client: TestClient,
) -> None:
    client = tiny_client
    pid = new_project(client, name="outpaint", width=512, height=512)["id"]
    upload(client, pid, _picture((512, 512)))
    wait_idle(client, pid)
    old = _export(client, pid)
    response = client.post(
        f"/api/projects/{pid}/outpaint",
        json={
            "width": 768,
            "height": 512,
            "anchor": "left",
            "params": {"prompt": "the sea", "steps": 2, "seed": 3},
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["layers"] == ["L2", "L3", "L4", "L5"]
    assert body["project"]["undo_label"] == "Outpaint to 768×512"
    project = wait_idle(client, pid, 300)
    assert [x["status"] for x in project["layers"]] == ["ready"] * 5, [
        x["run"]["error"] for x in project["layers"]
    ]
    fill = project["layers"][-1]
    assert fill["mask"] == "L4" and fill["visible"] and fill["placement"]["scale"] == 768 / 624
    new = _export(client, pid)
    assert new.shape == (512, 768, 4)
    seam = 8 + 4 * 16  # beyond grow + a few feather radii (canvas px) the fill's layer mask is 0
    assert np.array_equal(new[:, : 512 - seam], old[:, : 512 - seam]), "the old picture is kept"
    assert new[:, 512 + seam :, 3].min() == 255, "the new area is filled"
    assert not np.array_equal(new[:, 700:, :3], np.zeros_like(new[:, 700:, :3]))

    document = client.get(f"/api/projects/{pid}/workflow").content
    imported = client.post("/api/projects/import", files={"file": ("o.json", document, "application/json")})
    assert imported.status_code == 201, imported.text
    copy = imported.json()["project"]["id"]
    report = client.post(f"/api/projects/{copy}/replay", json={"timeout": 300}).json()
    assert report["complete"] and [x["result"] for x in report["layers"]] == ["exact"] * 5, report
    assert np.array_equal(_export(client, copy), new)

    undone = client.post(f"/api/projects/{pid}/undo").json()
    assert (undone["width"], undone["height"]) == (512, 512) and len(undone["layers"]) == 1
    assert json.loads(document)["canvas"] == {"width": 768, "height": 512}


def test_a_moved_picture_outpaints_around_it(client: TestClient, pid: str) -> None:
    """Without models: the outpaint layers are made and wired even where the inpaint cannot run."""
    client.patch(f"/api/projects/{pid}/layers/L1", json={"placement": {"x": 16}})
    response = client.post(
        f"/api/projects/{pid}/outpaint",
        json={"width": 96, "height": 64, "anchor": "top-left", "params": {"prompt": "x"}},
    )
    assert response.status_code == 201, response.text
    layers = response.json()["project"]["layers"]
    assert [x["recipe"]["op"] for x in layers] == [
        "load_image",
        "canvas_region",
        "flatten",
        "empty_area_mask",
        "mask_and_inpaint",
    ]
    assert layers[1]["recipe"]["params"]["drawn"][0]["x"] == 16
    assert layers[3]["recipe"]["inputs"] == {"image": "L2"}
    assert layers[4]["recipe"]["inputs"] == {"image_layer": "L3", "mask_layer": "L4"}
    assert [x["visible"] for x in layers] == [True, False, False, False, True]


def test_a_region_takes_a_mask_layer_cut_to_it(client: TestClient, pid: str) -> None:
    """The mask as placed on the canvas, cut to the region at the region layer's size."""
    mask = Image.new("L", (64, 48), 0)
    mask.paste(255, (0, 0, 32, 48))  # the left half of the canvas
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    upload(client, pid, buffer.getvalue(), route="masks")
    client.patch(f"/api/projects/{pid}/layers/L2", json={"placement": {"x": 8}})  # now x 8..40
    response = client.post(
        f"/api/projects/{pid}/regions", json={"x": 24, "y": 0, "width": 32, "height": 32, "mask": "L2"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["layers"] == ["L3", "L4"]
    cut = next(x for x in body["project"]["layers"] if x["id"] == "L4")
    assert (cut["recipe"]["op"], cut["kind"], cut["visible"]) == ("mask_region", "mask", False)
    assert body["project"]["undo_label"] == "Add layer “Region 32×32 at 24, 0”"
    layers = {x["id"]: x for x in wait_idle(client, pid)["layers"]}
    pixels = np.asarray(Image.open(io.BytesIO(client.get(f"/api/blobs/{layers['L4']['blob']}").content)))
    region = np.asarray(Image.open(io.BytesIO(client.get(f"/api/blobs/{layers['L3']['blob']}").content)))
    assert pixels.shape == region.shape[:2] == (512, 512)  # the generation size, as the region's
    column = pixels[256] // 255  # canvas x 24..40 selected: the first half of the region
    assert column[:240].min() == 1 and column[272:].max() == 0  # bilinear over one source pixel
    client.post(f"/api/projects/{pid}/undo")
    assert [x["id"] for x in client.get(f"/api/projects/{pid}").json()["layers"]] == ["L1", "L2"]


def test_a_region_and_the_layer_generated_from_it_are_one_undo_step(client: TestClient, pid: str) -> None:
    """``generate``: the op's layer made from the region (its image input), placed over it."""
    response = client.post(
        f"/api/projects/{pid}/regions",
        json={
            "x": 8,
            "y": 8,
            "width": 32,
            "height": 24,
            "op": "empty_area_mask",
            "generate": {"params": {"grow": 0, "feather": 0}, "name": "Empty"},
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["layers"] == ["L2", "L3"] and len(body["jobs"]) == 2
    made = body["project"]["layers"][-1]
    assert (made["recipe"]["op"], made["recipe"]["inputs"], made["name"]) == (
        "empty_area_mask",
        {"image": "L2"},
        "Empty",
    )
    assert made["placement"] == {"x": 8, "y": 8, "scale": 32 / 576, "flip_x": False, "flip_y": False}
    assert body["project"]["undo_label"] == "Add layer “Empty” in region"
    layers = {x["id"]: x for x in wait_idle(client, pid)["layers"]}
    assert layers["L3"]["status"] == "ready"
    assert Image.open(io.BytesIO(client.get(f"/api/blobs/{layers['L3']['blob']}").content)).size == (576, 432)
    client.post(f"/api/projects/{pid}/undo")
    assert [x["id"] for x in client.get(f"/api/projects/{pid}").json()["layers"]] == ["L1"]


def test_a_region_generates_through_its_cut_mask(client: TestClient, pid: str) -> None:
    """The cut mask fills the op's mask input and is the new layer's layer mask."""
    upload(client, pid, _png(Image.new("L", (64, 48), 255)), route="masks")
    response = client.post(
        f"/api/projects/{pid}/regions",
        json={
            "x": 0,
            "y": 0,
            "width": 32,
            "height": 32,
            "op": "mask_and_inpaint",
            "mask": "L2",
            "generate": {"params": {"prompt": "sea"}},
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["layers"] == ["L3", "L4", "L5"]
    made = body["project"]["layers"][-1]
    assert made["recipe"]["inputs"] == {"image_layer": "L3", "mask_layer": "L4"}
    assert made["mask"] == "L4" and made["placement"]["scale"] == 32 / 512
    assert body["project"]["undo_label"] == f"Add layer “{made['name']}” in region"
    assert made["name"].endswith(": sea")


def test_dream_in_a_region_is_told_the_size_and_takes_no_region_layer(client: TestClient, pid: str) -> None:
    response = client.post(
        f"/api/projects/{pid}/regions",
        json={
            "x": 0,
            "y": 16,
            "width": 64,
            "height": 32,
            "op": "dream",
            "generate": {"params": {"prompt": "sea"}},
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["layers"] == ["L2"] and len(body["project"]["layers"]) == 2
    made = body["project"]["layers"][-1]
    params = made["recipe"]["params"]
    assert (made["recipe"]["op"], params["width"], params["height"]) == ("dream", 736, 368)
    assert made["placement"]["scale"] == 64 / 736 and (made["placement"]["x"], made["placement"]["y"]) == (
        0,
        16,
    )
    client.post(f"/api/projects/{pid}/undo")
    assert [x["id"] for x in client.get(f"/api/projects/{pid}").json()["layers"]] == ["L1"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"op": "load_image", "generate": {}}, "load_image has no single image input or width and height"),
        ({"op": "dream", "mask": "L2", "generate": {}}, "dream has no single mask input"),
        ({"op": "empty_area_mask", "mask": "L2", "generate": {}}, "empty_area_mask has no single mask input"),
        ({"op": "empty_area_mask", "generate": {"params": {"grow": -1}}}, "grow"),
        ({"op": "empty_area_mask", "generate": {"inputs": {"other": "L1"}}}, "other"),
        ({"op": "empty_area_mask", "generate": {"when": "now"}}, "when"),
    ],
)
def test_a_bad_region_generation_changes_nothing(
    client: TestClient, pid: str, body: dict, words: str
) -> None:
    upload(client, pid, _png(Image.new("L", (64, 48), 255)), route="masks")
    before = wait_idle(client, pid)
    response = client.post(
        f"/api/projects/{pid}/regions", json={"x": 0, "y": 0, "width": 16, "height": 16} | body
    )
    assert response.status_code in (404, 422), response.text
    assert words in response.text
    assert client.get(f"/api/projects/{pid}").json() == before


def test_a_region_mask_has_to_be_a_mask_layer(client: TestClient, pid: str) -> None:
    before = client.get(f"/api/projects/{pid}").json()
    response = client.post(
        f"/api/projects/{pid}/regions", json={"x": 0, "y": 0, "width": 16, "height": 16, "mask": "L1"}
    )
    assert response.status_code == 422 and "mask" in response.text, response.text
    assert (
        client.post(
            f"/api/projects/{pid}/regions", json={"x": 0, "y": 0, "width": 16, "height": 16, "mask": "L9"}
        ).status_code
        == 404
    )
    assert client.get(f"/api/projects/{pid}").json() == before


def test_a_layer_is_created_with_a_layer_mask_in_one_undo_step(client: TestClient, pid: str) -> None:
    upload(client, pid, _png(Image.new("L", (64, 48), 255)), route="masks")
    wait_idle(client, pid)
    made = client.post(
        f"/api/projects/{pid}/layers",
        json={"op": "load_image", "params": {"asset": _asset(client, pid)}, "mask": "L2"},
    )
    assert made.status_code == 201, made.text
    assert made.json()["project"]["layers"][-1]["mask"] == "L2"
    assert made.json()["project"]["undo_label"] == "Add layer “Image”"
    before = wait_idle(client, pid)
    for mask, words in (("L1", "'L1' is an image layer"), ("L9", "no layer 'L9'")):
        refused = client.post(
            f"/api/projects/{pid}/layers",
            json={"op": "load_image", "params": {"asset": _asset(client, pid)}, "mask": mask},
        )
        assert refused.status_code == 422 and words in refused.text, refused.text
    assert client.get(f"/api/projects/{pid}").json() == before


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
