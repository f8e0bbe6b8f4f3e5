"""The web UI at ``/``: files as they are, client-side routes fall back to index.html, while
unknown API routes and missing asset files stay 404 (JSON for the API)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opendream.engine.runtime import make_runtime
from opendream.engine.workspace import Workspace
from opendream.server.app import create_app
from opendream.server.frontend import is_client_route
from tests.server_fixtures import BASE, make_settings

INDEX = "<!doctype html><title>Opendream</title><div id=root></div>"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    static = tmp_path / "static"
    (static / "assets").mkdir(parents=True)
    (static / "index.html").write_text(INDEX)
    (static / "assets" / "app.js").write_text("console.log(1)")
    settings = make_settings(tmp_path / "data")
    workspace = Workspace(settings, runtime=make_runtime(settings, load_models=False), extensions=[])
    app = create_app(settings, workspace=workspace, static_dir=static)
    with TestClient(app, base_url=BASE) as test_client:
        yield test_client
    workspace.close()


def test_files_and_the_root_are_served(client: TestClient) -> None:
    assert client.get("/").text == INDEX
    script = client.get("/assets/app.js")
    assert script.status_code == 200 and script.text == "console.log(1)"


@pytest.mark.parametrize("path", ["/projects/p1", "/projects/p1/layers/L2", "/settings", "/x/"])
def test_client_routes_serve_index_html(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html") and response.text == INDEX


@pytest.mark.parametrize("path", ["/api/nope", "/api/projects/x/nothing/here", "/api/", "/api"])
def test_unknown_api_routes_stay_json_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json" and "detail" in response.json()


def test_a_wrong_method_on_an_api_route_is_405_not_the_page(client: TestClient) -> None:
    response = client.get("/api/extensions/reload")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert "detail" in response.json()


def test_a_missing_asset_file_is_404_not_the_page(client: TestClient) -> None:
    response = client.get("/assets/gone.js")
    assert response.status_code == 404 and response.text != INDEX


@pytest.mark.parametrize(
    ("path", "expected"),
    [("projects/p1", True), ("", True), ("x/", True), ("a/b.css", False), ("favicon.svg", False)],
)
def test_is_client_route(path: str, expected: bool) -> None:
    assert is_client_route(path) is expected
