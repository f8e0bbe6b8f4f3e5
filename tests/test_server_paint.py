"""Colour painting (issue 16 §5): a painted layer is an RGBA asset like a painted mask, and
painting it again re-runs what is made from it."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from PIL import Image

from tests.server_fixtures import new_project, png_bytes, upload, wait_idle


def _pixel(client: TestClient, blob: str, at: tuple[int, int]) -> tuple[int, ...]:
    return Image.open(io.BytesIO(client.get(f"/api/blobs/{blob}").content)).convert("RGBA").getpixel(at)


def test_a_painting_keeps_its_transparency_and_repainting_reruns_descendants(client: TestClient) -> None:
    pid = new_project(client, width=32, height=32)["id"]
    stroke = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    stroke.paste((10, 200, 30, 255), (4, 4, 12, 12))
    buffer = io.BytesIO()
    stroke.save(buffer, format="PNG")
    made = upload(client, pid, buffer.getvalue(), route="paintings", name="strokes.png")
    assert made.status_code == 201, made.text
    client.post(
        f"/api/projects/{pid}/layers",
        json={"op": "server_test_tint", "params": {"amount": 40}, "inputs": {"image": "L1"}},
    )
    layers = wait_idle(client, pid)["layers"]
    assert [(x["recipe"]["op"], x["status"]) for x in layers] == [
        ("paint", "ready"),
        ("server_test_tint", "ready"),
    ]
    assert _pixel(client, layers[0]["blob"], (0, 0)) == (0, 0, 0, 0)
    assert _pixel(client, layers[0]["blob"], (5, 5)) == (10, 200, 30, 255)
    assert _pixel(client, layers[1]["blob"], (5, 5))[:3] == (50, 200, 30)

    repainted = client.put(
        f"/api/projects/{pid}/layers/L1/asset",
        files={"file": ("p.png", png_bytes((32, 32), (100, 0, 0)), "image/png")},
    )
    assert repainted.status_code == 200, repainted.text
    assert repainted.json()["layers"] == ["L1", "L2"]
    layers = wait_idle(client, pid)["layers"]
    assert _pixel(client, layers[1]["blob"], (5, 5))[:3] == (140, 0, 0)


def test_a_painting_that_is_not_an_image_is_refused(client: TestClient) -> None:
    pid = new_project(client, width=32, height=32)["id"]
    response = upload(client, pid, b"not a png", route="paintings", name="notes.txt")
    assert response.status_code == 415, response.text
    assert "“notes.txt”" in response.json()["detail"]
    assert client.get(f"/api/projects/{pid}").json()["layers"] == []
