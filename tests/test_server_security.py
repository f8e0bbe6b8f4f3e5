"""Host / Origin / token matrices for HTTP and the WebSocket (DESIGN §6)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from opendream.server.app import create_app
from opendream.server.security import is_loopback, split_host
from tests.server_fixtures import WS, make_app, make_settings

TOKEN = "s3cret-token-value"
HOSTS = {
    "localhost:8000": True,
    "127.0.0.1": True,
    "[::1]:8000": True,
    "evil.example": False,
    "127.0.0.1.nip.io": False,
    "localhost.evil.example:8000": False,
}
ORIGINS = ["same", "cross-site", "null", "none"]


def _origin_headers(host: str, origin: str) -> dict[str, str]:
    headers = {"host": host}
    if origin == "same":
        headers["origin"] = f"http://{host}"
    elif origin == "cross-site":
        headers["origin"] = "http://evil.example"
    elif origin == "null":
        headers["origin"] = "null"
    return headers


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("origin", ORIGINS)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_loopback_http_matrix(client: TestClient, host: str, origin: str, method: str) -> None:
    headers = _origin_headers(host, origin)
    if method == "GET":
        response = client.get("/api/projects", headers=headers)
        expected = 200 if HOSTS[host] else 403
    else:
        response = client.post("/api/projects", json={"name": "x"}, headers=headers)
        expected = 201 if HOSTS[host] and origin in ("same", "none") else 403
    assert response.status_code == expected, response.text
    if expected == 403:
        assert response.json()["detail"]


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
def test_sec_fetch_site_cross_site_is_refused_on_state_changes(client: TestClient, method: str) -> None:
    response = client.request(method, "/api/projects/p", headers={"sec-fetch-site": "cross-site"})
    assert response.status_code == 403
    assert client.get("/api/health", headers={"sec-fetch-site": "cross-site"}).status_code == 200


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("origin", ORIGINS)
def test_loopback_websocket_matrix(client: TestClient, host: str, origin: str) -> None:
    headers = _origin_headers(host, origin)
    allowed = HOSTS[host] and origin in ("same", "none")
    if allowed:
        with client.websocket_connect(WS, headers=headers) as ws:
            ws.send_json({"type": "hello"})
            assert ws.receive_json()["type"] == "error"
    else:
        with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(WS, headers=headers):
            pass
        assert refused.value.code == 1008


@pytest.fixture
def token_client(tmp_path: Path) -> Iterator[TestClient]:
    application: FastAPI = make_app(tmp_path / "data", host="0.0.0.0", token=TOKEN)
    with TestClient(application, base_url="http://192.168.1.20:8000") as test_client:
        yield test_client
    application.state.opendream.workspace.close()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 401),
        ({"authorization": "Bearer wrong"}, 401),
        ({"authorization": f"Bearer {TOKEN}x"}, 401),
        ({"authorization": f"Bearer {TOKEN}"}, 200),
        ({"x-opendream-token": TOKEN}, 200),
        ({"cookie": f"opendream_token={TOKEN}"}, 200),
        ({"cookie": "opendream_token=nope"}, 401),
    ],
)
def test_token_is_required_off_loopback(token_client: TestClient, headers: dict, expected: int) -> None:
    response = token_client.get("/api/projects", headers=headers)
    assert response.status_code == expected, response.text


def test_token_in_the_query_sets_a_cookie(token_client: TestClient) -> None:
    response = token_client.get("/api/health", params={"token": TOKEN})
    assert response.status_code == 200
    assert "opendream_token=" in response.headers["set-cookie"]
    assert "HttpOnly" in response.headers["set-cookie"]
    assert token_client.get("/api/projects").status_code == 200  # the cookie jar now has it


@pytest.mark.parametrize(
    ("headers", "origin", "allowed"),
    [
        ({}, "none", False),
        ({"x-opendream-token": TOKEN}, "none", True),
        ({"cookie": f"opendream_token={TOKEN}"}, "same", True),
        ({"cookie": f"opendream_token={TOKEN}"}, "cross-site", False),
        ({"cookie": f"opendream_token={TOKEN}"}, "null", False),
    ],
)
def test_token_websocket_matrix(token_client: TestClient, headers: dict, origin: str, allowed: bool) -> None:
    url = "ws://192.168.1.20:8000/api/ws"
    all_headers = {**_origin_headers("192.168.1.20:8000", origin), **headers}
    if allowed:
        with token_client.websocket_connect(url, headers=all_headers) as ws:
            ws.send_json({"type": "cancel", "job": "x"})
            assert ws.receive_json()["type"] == "error"
    else:
        with pytest.raises(WebSocketDisconnect), token_client.websocket_connect(url, headers=all_headers):
            pass


def test_a_non_loopback_bind_without_a_token_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="requires a token"):
        create_app(make_settings(tmp_path, host="0.0.0.0"))


@pytest.mark.parametrize(
    ("value", "host", "loopback"),
    [
        ("localhost:8000", "localhost", True),
        ("[::1]:8000", "::1", True),
        ("127.0.0.2", "127.0.0.2", True),
        ("LOCALHOST", "localhost", True),
        ("127.0.0.1.nip.io:80", "127.0.0.1.nip.io", False),
        ("0.0.0.0", "0.0.0.0", False),
        ("", "", False),
    ],
)
def test_host_parsing(value: str, host: str, loopback: bool) -> None:
    assert split_host(value) == host
    assert is_loopback(host) is loopback


def test_serve_beyond_loopback_generates_and_prints_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from opendream import cli

    served: dict[str, FastAPI] = {}
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: served.setdefault("app", self.config.app))
    result = CliRunner().invoke(cli.app, ["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    state = served["app"].state.opendream
    assert len(state.settings.token) >= 24
    assert state.settings.token in result.output
    state.workspace.close()
