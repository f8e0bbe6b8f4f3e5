"""Hardening round 2 (issue 12) on the server: response headers against framing and
cross-origin probing, the token leaving URLs and logs, binary WebSocket frames, the API docs
page, an 8192x8192 export, and the pixel budget of one request."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

import opendream
from opendream import ImageLayer
from opendream.server.docs_page import docs_policy
from opendream.server.security import CONTENT_SECURITY_POLICY, RedactTokens, redact_tokens
from tests.server_fixtures import BASE, SERVER_OPS, WS, make_app, new_project, png_bytes, upload, wait_idle

TOKEN = "s3cret-token-for-tests"
SEEN_INPUTS: list[list[int]] = []
#: The server tests' ops and this module's.
HARDENING_OPS = SERVER_OPS.copy()


@opendream.op(registry=HARDENING_OPS, title="Input identities (test)", category="test")
def server_test_identities(layers: list[ImageLayer]) -> ImageLayer:
    """Records which distinct image objects its list input holds."""
    SEEN_INPUTS.append(sorted({id(x.get_image()) for x in layers}))
    return ImageLayer(image=layers[0].get_image())


@pytest.fixture
def small_budget_client(tmp_path: Path) -> Iterator[TestClient]:
    """Three 16x16 layers (768 pixels) fit a budget of 1000; four do not."""
    application = make_app(tmp_path / "data", registry=HARDENING_OPS, pixel_budget=1000)
    with TestClient(application, base_url=BASE) as test_client:
        yield test_client
    application.state.opendream.workspace.close()


@pytest.fixture
def token_client(tmp_path: Path) -> Iterator[TestClient]:
    application: FastAPI = make_app(tmp_path / "data", token=TOKEN)
    with TestClient(application, base_url=BASE) as test_client:
        yield test_client
    application.state.opendream.workspace.close()


# -- headers: clickjacking (4), cross-origin probing (6) ----------------------------------------


def _assert_hardened(response: Any) -> None:
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cross-origin-resource-policy"] == "same-origin"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_every_answer_forbids_framing_and_cross_origin_reads(client: TestClient) -> None:
    project = new_project(client, width=16, height=16)
    layer = upload(client, project["id"], png_bytes()).json()["layers"][0]
    blob = wait_idle(client, project["id"])["layers"][0]["blob"]
    assert blob, layer
    answers = {
        "health": client.get("/api/health"),
        "blob": client.get(f"/api/blobs/{blob}"),
        "thumbnail": client.get(f"/api/blobs/{blob}", params={"thumb": True}),
        "missing blob": client.get(f"/api/blobs/{'0' * 64}"),
        "export": client.get(f"/api/projects/{project['id']}/export.png"),
        "refused host": client.get("/api/health", headers={"host": "evil.example"}),
        "unknown route": client.get("/api/nope"),
    }
    for name, response in answers.items():
        assert response.status_code in (200, 403, 404), f"{name}: {response.status_code}"
        _assert_hardened(response)
    assert answers["blob"].headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert answers["blob"].headers.get_list("x-content-type-options") == ["nosniff"]  # not twice


# -- the token in URLs and logs (5) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "location"),
    [
        (f"/?token={TOKEN}", "/"),
        (f"/projects/p1?token={TOKEN}&view=grid", "/projects/p1?view=grid"),
    ],
)
def test_a_page_opened_with_the_token_is_redirected_without_it(
    token_client: TestClient, url: str, location: str
) -> None:
    response = token_client.get(url, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == location
    assert f"opendream_token={TOKEN}" in response.headers["set-cookie"]
    _assert_hardened(response)
    assert token_client.get("/api/projects").status_code == 200  # the cookie now authenticates


def test_the_token_query_still_authenticates_api_calls_and_wrong_ones_are_not_redirected(
    token_client: TestClient,
) -> None:
    assert token_client.get("/api/health", params={"token": TOKEN}).status_code == 200
    token_client.cookies.clear()  # the call above set the cookie
    wrong = token_client.get("/", params={"token": "wrong"}, follow_redirects=False)
    assert wrong.status_code == 401
    assert "set-cookie" not in wrong.headers


def test_tokens_are_redacted_from_server_log_lines() -> None:
    access = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/?token={TOKEN}&a=1", "1.1", 303), None,
    )  # fmt: skip
    websocket = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", f"/api/ws?x=1&token={TOKEN}"), None,
    )  # fmt: skip
    for record in (access, websocket):
        assert RedactTokens().filter(record)
        assert TOKEN not in record.getMessage()
        assert "token=[redacted]" in record.getMessage()
    assert redact_tokens("GET /a?tokens=1&token=x HTTP/1.1") == "GET /a?tokens=1&token=[redacted] HTTP/1.1"


def test_the_app_installs_the_redaction_on_the_server_loggers(client: TestClient) -> None:
    for name in ("uvicorn.access", "uvicorn.error"):
        assert any(isinstance(f, RedactTokens) for f in logging.getLogger(name).filters), name


# -- WebSocket binary frames (9) -----------------------------------------------------------------


def test_a_binary_websocket_frame_gets_an_error_and_the_connection_stays(client: TestClient) -> None:
    with client.websocket_connect(WS) as ws:
        ws.send_bytes(b"\x00\x01binary")
        answer = ws.receive_json()
        assert answer == {"type": "error", "detail": "messages are JSON text, not binary"}
        ws.send_json({"type": "cancel", "job": "nope"})
        assert ws.receive_json() == {"type": "error", "detail": "no job 'nope'"}


# -- API docs (11) --------------------------------------------------------------------------------


def test_api_docs_are_off_by_default_and_the_openapi_document_stays(client: TestClient) -> None:
    assert client.get("/api/docs").status_code == 404
    assert client.get("/api/openapi.json").json()["info"]["title"] == "Opendream"


def test_api_docs_when_enabled_allow_only_their_assets_origin(tmp_path: Path) -> None:
    application = make_app(tmp_path / "data", api_docs=True)
    with TestClient(application, base_url=BASE) as test_client:
        page = test_client.get("/api/docs")
    application.state.opendream.workspace.close()
    assert page.status_code == 200
    assert "SwaggerUIBundle" in page.text and "/api/openapi.json" in page.text
    policy = page.headers["content-security-policy"]
    assert policy == docs_policy()
    assert "frame-ancestors 'none'" in policy
    script_sources = next(d for d in policy.split("; ") if d.startswith("script-src")).split()[1:]
    assert "'self'" in script_sources and "*" not in script_sources and "https:" not in script_sources
    assert page.headers["x-frame-options"] == "DENY"


# -- 8192x8192 canvas (14) ------------------------------------------------------------------------


def test_the_largest_canvas_exports_and_imports_again(client: TestClient) -> None:
    project = new_project(client, width=8192, height=8192)
    upload(client, project["id"], png_bytes((64, 64), (10, 200, 30)))
    wait_idle(client, project["id"])
    exported = client.get(f"/api/projects/{project['id']}/export.png")
    assert exported.status_code == 200, exported.text
    with Image.open(io.BytesIO(exported.content)) as image:
        assert image.size == (8192, 8192)
        assert image.getpixel((0, 0)) == (10, 200, 30, 255)
        assert image.getpixel((8191, 8191)) == (0, 0, 0, 0)
    imported = client.post("/api/projects/import", files={"file": ("big.png", exported.content, "image/png")})
    assert imported.status_code == 201, imported.text
    assert (imported.json()["project"]["width"], imported.json()["project"]["height"]) == (8192, 8192)


# -- the pixel budget of one request (1) ----------------------------------------------------------


def test_an_export_over_the_pixel_budget_is_refused_with_its_cost(small_budget_client: TestClient) -> None:
    client = small_budget_client
    project = new_project(client, width=16, height=16)
    layers = [upload(client, project["id"], png_bytes()).json()["layers"][0] for _ in range(4)]
    wait_idle(client, project["id"])
    refused = client.get(f"/api/projects/{project['id']}/export.png")
    assert refused.status_code == 413
    detail = refused.json()["detail"]
    assert "1024 pixels (4 images)" in detail and "the limit is 1000" in detail
    assert "OPENDREAM_PIXEL_BUDGET" in detail
    # Hidden layers cost nothing: three visible ones fit.
    hidden = client.patch(f"/api/projects/{project['id']}/layers/{layers[0]}", json={"visible": False})
    assert hidden.status_code == 200, hidden.text
    assert client.get(f"/api/projects/{project['id']}/export.png").status_code == 200


def test_an_op_reading_more_pixels_than_the_budget_fails_with_its_cost(
    small_budget_client: TestClient,
) -> None:
    client = small_budget_client
    project = new_project(client, width=16, height=16)
    ids = [upload(client, project["id"], png_bytes(colour=(i, 0, 0))).json()["layers"][0] for i in range(4)]
    wait_idle(client, project["id"])
    made = client.post(
        f"/api/projects/{project['id']}/layers", json={"op": "flatten", "inputs": {"layers": ids}}
    )
    assert made.status_code == 201, made.text
    flat = wait_idle(client, project["id"])["layers"][-1]
    assert flat["status"] == "failed"
    assert "running flatten decodes 1024 pixels (4 images); the limit is 1000" in flat["run"]["error"]


def test_inputs_naming_one_layer_many_times_are_decoded_once(small_budget_client: TestClient) -> None:
    client = small_budget_client
    project = new_project(client, width=16, height=16)
    source = upload(client, project["id"], png_bytes()).json()["layers"][0]
    wait_idle(client, project["id"])
    SEEN_INPUTS.clear()
    for op in ("server_test_identities", "flatten"):
        made = client.post(
            f"/api/projects/{project['id']}/layers", json={"op": op, "inputs": {"layers": [source] * 64}}
        )
        assert made.status_code == 201, made.text
    layers = wait_idle(client, project["id"])["layers"]
    # 64 x 256 pixels would be over the budget of 1000; one decoded copy is not.
    assert [x["status"] for x in layers[-2:]] == ["ready", "ready"], layers[-2:]
    assert [len(ids) for ids in SEEN_INPUTS] == [1]
