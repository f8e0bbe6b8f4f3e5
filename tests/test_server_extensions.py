"""Extensions over HTTP: list, reload, install from a URL (fetch into quarantine, then enable
with the confirmed sha256) against a local HTTP server, every refusal, the provenance a
workflow records, and the watcher thread that reloads changed extension files."""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from opendream.server.install_codes import InstallCodes
from tests.fake_services import FakeService, Reply, files, serve
from tests.server_fixtures import BASE, make_app, new_project, png_bytes, upload, wait_for, wait_idle

FIXTURES = Path(__file__).parent / "fixtures" / "extensions"
GOOD = (FIXTURES / "mirror_url.py").read_bytes()
GOOD_SHA = hashlib.sha256(GOOD).hexdigest()


@pytest.fixture
def remote() -> Iterator[FakeService]:
    with serve(FakeService()) as service:
        files(
            service,
            {
                "/mirror_url.py": (GOOD, "text/x-python"),
                "/broken.py": (b"def oops(:\n    pass\n", "text/x-python"),
                "/big.py": (b"#" * 5000, "text/x-python"),
            },
        )
        yield service


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("MIRROR_URL_MARKER", str(tmp_path / "executed"))
    data = tmp_path / "data"
    yield data
    for path in (data / "extensions").glob("*.py"):  # the app's registry went with it
        sys.modules.pop(f"opendream_ext_{path.stem}", None)


def _client(data_dir: Path, **settings: Any) -> Iterator[TestClient]:
    app = make_app(data_dir, **settings)
    # What the server prints on its console, where the human who started it reads the code.
    app.state.console = []
    app.state.install_codes = InstallCodes(announce=app.state.console.append)
    with TestClient(app, base_url=BASE) as client:
        yield client
    app.state.opendream.workspace.close()


def console_code(client: TestClient) -> str:
    """The last confirmation code the server printed on its console."""
    (code,) = re.findall(r"type this code in the confirmation: (\d{4}-\d{4})", client.app.state.console[-1])
    return code


@pytest.fixture
def client(data_dir: Path) -> Iterator[TestClient]:
    yield from _client(
        data_dir, allow_url_install=True, extension_max_bytes=1000, extension_download_timeout_s=0.3
    )


def _quarantined(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "extensions" / ".quarantine").glob("*"))


def _ops(client: TestClient) -> set[str]:
    return {op["name"] for op in client.get("/api/ops").json()["ops"]}


def test_fetch_shows_the_source_then_enable_with_the_hash_loads_its_ops(
    client: TestClient, remote: FakeService, data_dir: Path, tmp_path: Path
) -> None:
    listing = client.get("/api/extensions").json()
    assert listing["url_install"] == {"allowed": True, "reason": None}

    url = f"{remote.url}/mirror_url.py"
    fetched = client.post("/api/extensions/fetch", json={"url": url})
    assert fetched.status_code == 200, fetched.text
    assert fetched.json() == {
        "url": url,
        "name": "mirror_url.py",
        "sha256": GOOD_SHA,
        "size": len(GOOD),
        "preview": GOOD.decode(),
        "preview_truncated": False,
    }
    assert not (tmp_path / "executed").exists(), "fetching never runs the code"
    assert "mirror_url" not in _ops(client)

    code = console_code(client)
    assert code not in fetched.text, "the code is only on the server's console"
    wrong = client.post("/api/extensions/enable", json={"sha256": "0" * 64, "code": code})
    assert wrong.status_code == 404 and "no download with sha256" in wrong.json()["detail"]
    short = client.post("/api/extensions/enable", json={"sha256": GOOD_SHA[:12], "code": code})
    assert short.status_code == 400 and "full sha256" in short.json()["detail"]
    assert not (tmp_path / "executed").exists()

    enabled = client.post("/api/extensions/enable", json={"sha256": GOOD_SHA, "code": code})
    assert enabled.status_code == 200, enabled.text
    body = enabled.json()
    assert body["extension"] == {
        "name": "mirror_url",
        "source": str((data_dir / "extensions" / "mirror_url.py").resolve()),
        "ops": ["mirror_url"],
        "error": None,
        "missing": [],
        "overrides": [],
        "url": url,
        "sha256": GOOD_SHA,
    }
    assert [op["name"] for op in body["ops"]] == ["mirror_url"]
    assert body["ops"][0]["schema"]["properties"]["image"]["x-opendream-layer"] == "image"
    assert (tmp_path / "executed").exists() and "mirror_url" in _ops(client)
    listed = {x["name"]: x for x in client.get("/api/extensions").json()["extensions"]}
    assert (listed["mirror_url"]["url"], listed["mirror_url"]["sha256"]) == (url, GOOD_SHA)
    assert listed["sam"]["url"] is None and listed["sam"]["error"] is None
    assert _quarantined(data_dir) == []


def test_a_workflow_names_the_url_and_hash_of_an_installed_extension(
    client: TestClient, remote: FakeService, data_dir: Path
) -> None:
    url = f"{remote.url}/mirror_url.py"
    client.post("/api/extensions/fetch", json={"url": url})
    enabled = client.post("/api/extensions/enable", json={"sha256": GOOD_SHA, "code": console_code(client)})
    assert enabled.status_code == 200
    pid = new_project(client)["id"]
    upload(client, pid, png_bytes())
    added = client.post(f"/api/projects/{pid}/layers", json={"op": "mirror_url", "inputs": {"image": "L1"}})
    assert added.status_code == 201, added.text
    wait_idle(client, pid)
    document = client.get(f"/api/projects/{pid}/workflow").json()
    mirrored = document["layers"][1]
    assert mirrored["extension"] == "mirror_url"
    assert mirrored["extension_source"] == {"url": url, "sha256": GOOD_SHA}
    assert "extension_source" not in document["layers"][0]

    # Elsewhere (here: after removing it and reloading) the import says what to install.
    (data_dir / "extensions" / "mirror_url.py").unlink()
    reloaded = client.post("/api/extensions/reload")
    assert reloaded.status_code == 200 and "mirror_url" not in _ops(client)
    assert "mirror_url" not in {x["name"] for x in reloaded.json()["extensions"]}
    projects = len(client.get("/api/projects").json())
    response = client.post(
        "/api/projects/import", files={"file": ("w.json", json.dumps(document).encode(), "application/json")}
    )
    assert response.status_code == 404, response.text
    assert response.json()["detail"].startswith(
        f"op not installed: 'mirror_url' (extension 'mirror_url' from {url} sha256 {GOOD_SHA})."
    )
    assert len(client.get("/api/projects").json()) == projects


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("file:///etc/passwd.py", 400, "only http:// and https://"),
        ("ftp://127.0.0.1/x.py", 400, "only http:// and https://"),
        ("{url}/page.html", 400, "does not name a Python extension file"),
        ("{url}/missing.py", 400, "answered 404"),
        ("{url}/broken.py", 400, "is not Python (line 1)"),
        ("{url}/big.py", 413, "is 5000 bytes; an extension may be at most 1000"),
    ],
)
def test_refusals_are_4xx_with_the_reason_and_nothing_quarantined(
    client: TestClient, remote: FakeService, data_dir: Path, url: str, status: int, message: str
) -> None:
    response = client.post("/api/extensions/fetch", json={"url": url.format(url=remote.url)})
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert _quarantined(data_dir) == []


def test_pending_downloads_are_listed_and_a_declined_one_is_deleted(
    client: TestClient, remote: FakeService, data_dir: Path
) -> None:
    assert client.get("/api/extensions/pending").json() == []
    url = f"{remote.url}/mirror_url.py"
    assert client.post("/api/extensions/fetch", json={"url": url}).status_code == 200
    (pending,) = client.get("/api/extensions/pending").json()
    assert {k: pending[k] for k in ("url", "name", "sha256", "size")} == {
        "url": url,
        "name": "mirror_url.py",
        "sha256": GOOD_SHA,
        "size": len(GOOD),
    }
    assert pending["fetched_at"] > 0

    response = client.delete(f"/api/extensions/pending/{'0' * 64}")
    assert response.status_code == 404 and "no download with sha256" in response.json()["detail"]
    assert client.delete("/api/extensions/pending/abc").status_code == 400
    assert len(_quarantined(data_dir)) == 2, "a refused discard deletes nothing"

    assert client.delete(f"/api/extensions/pending/{GOOD_SHA.upper()}").status_code == 204
    assert client.get("/api/extensions/pending").json() == [] and _quarantined(data_dir) == []
    assert client.post("/api/extensions/enable", json={"sha256": GOOD_SHA, "code": "1"}).status_code == 404
    assert client.delete(f"/api/extensions/pending/{GOOD_SHA}").status_code == 404


def test_a_slow_download_times_out(client: TestClient, remote: FakeService, data_dir: Path) -> None:
    remote.queue(Reply(200, GOOD, "text/x-python", delay=1.0))
    response = client.post("/api/extensions/fetch", json={"url": f"{remote.url}/mirror_url.py"})
    assert response.status_code == 504 and "timed out after 0.3s" in response.json()["detail"]
    assert _quarantined(data_dir) == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": ""},
        {"url": "http://x/" + "a" * 3000 + ".py"},
        {"url": 5},
        {"url": "http://x/a.py", "y": 1},
    ],
)
def test_malformed_bodies_are_422(client: TestClient, body: dict) -> None:
    assert client.post("/api/extensions/fetch", json=body).status_code == 422
    assert client.post("/api/extensions/enable", json={"sha256": "a" * 200, "code": "1"}).status_code == 422
    assert client.post("/api/extensions/enable", json={"sha256": "a" * 64}).status_code == 422


def test_refused_when_the_server_does_not_allow_it(remote: FakeService, data_dir: Path) -> None:
    for client in _client(data_dir):
        listing = client.get("/api/extensions").json()["url_install"]
        assert listing["allowed"] is False and "OPENDREAM_ALLOW_URL_INSTALL=1" in listing["reason"]
        response = client.post("/api/extensions/fetch", json={"url": f"{remote.url}/mirror_url.py"})
        assert response.status_code == 403 and "disabled" in response.json()["detail"]
        assert (
            client.post("/api/extensions/enable", json={"sha256": GOOD_SHA, "code": "1"}).status_code == 403
        )
    assert remote.requests == [] and _quarantined(data_dir) == []


def test_refused_on_a_non_loopback_bind(remote: FakeService, data_dir: Path) -> None:
    for client in _client(data_dir, host="0.0.0.0", token="secret-token", allow_url_install=True):
        client.headers["Authorization"] = "Bearer secret-token"
        listing = client.get("/api/extensions").json()["url_install"]
        assert listing["allowed"] is False and "'0.0.0.0'" in listing["reason"]
        response = client.post("/api/extensions/fetch", json={"url": f"{remote.url}/mirror_url.py"})
        assert response.status_code == 403 and "loopback" in response.json()["detail"]
    assert remote.requests == [] and _quarantined(data_dir) == []


WATCHED = """
import opendream
from opendream import ImageLayer
from PIL import Image


@opendream.op(title="{title}", category="test")
def server_watched_op(seed: int = 0) -> ImageLayer:
    return ImageLayer(image=Image.new("RGB", (8, 8)))
"""


def test_the_watcher_reloads_extension_files_while_serving(client: TestClient, data_dir: Path) -> None:
    path = data_dir / "extensions" / "watched.py"

    def title() -> str | None:
        ops = {op["name"]: op for op in client.get("/api/ops").json()["ops"]}
        return ops["server_watched_op"]["title"] if "server_watched_op" in ops else None

    path.write_text(WATCHED.format(title="First"))
    wait_for(lambda: title() == "First", 10, "the new extension to load")
    path.write_text(WATCHED.format(title="Second, edited"))
    wait_for(lambda: title() == "Second, edited", 10, "the edited extension to reload")
    path.write_text("def broken(:\n")
    wait_for(lambda: title() is None, 10, "the broken extension's ops to go")
    listed = {x["name"]: x for x in client.get("/api/extensions").json()["extensions"]}
    assert "syntax error" in listed["watched"]["error"]
    path.unlink()
    wait_for(
        lambda: "watched" not in {x["name"] for x in client.get("/api/extensions").json()["extensions"]},
        10,
        "the deleted extension to be dropped",
    )


def test_the_watcher_thread_stops_with_the_server(data_dir: Path) -> None:
    def watching() -> bool:
        return any(t.name == "opendream-extension-watcher" for t in threading.enumerate())

    for _ in _client(data_dir):
        assert watching()
    assert not watching()


def test_a_scripted_fetch_then_enable_over_http_alone_cannot_enable_code(
    client: TestClient, remote: FakeService, data_dir: Path, tmp_path: Path
) -> None:
    """Any local process can send any header: it fetched, then enabled with the hash it just got.
    Enabling now needs the code printed on the server's console, which no HTTP answer carries."""
    url = f"{remote.url}/mirror_url.py"
    fetched = client.post("/api/extensions/fetch", json={"url": url})
    assert fetched.status_code == 200
    listing = client.get("/api/extensions/pending").text + client.get("/api/extensions").text
    code = console_code(client)
    assert code not in fetched.text + listing
    # The script guesses (with every header a browser would send): three wrong codes void it.
    guesses = [g for g in ("0000-0000", "1234-5678", "9999-9999", "1111-1111") if g != code][:3]
    details = []
    for guess in guesses:
        response = client.post(
            "/api/extensions/enable",
            json={"sha256": GOOD_SHA, "code": guess},
            headers={"Origin": BASE, "Sec-Fetch-Site": "same-origin"},
        )
        assert response.status_code == 403
        details.append(response.json()["detail"])
    assert "wrong confirmation code" in details[0] and "too many times" in details[-1]
    response = client.post("/api/extensions/enable", json={"sha256": GOOD_SHA, "code": code})
    assert response.status_code == 403 and "no confirmation code is waiting" in response.json()["detail"]
    assert not (data_dir / "extensions" / "mirror_url.py").exists()
    assert not (tmp_path / "executed").exists() and "mirror_url" not in _ops(client)

    # A fresh fetch prints a fresh code; the human types it and it is enabled once.
    client.post("/api/extensions/fetch", json={"url": url})
    code = console_code(client)
    assert client.post("/api/extensions/enable", json={"sha256": GOOD_SHA, "code": code}).status_code == 200
    assert "mirror_url" in _ops(client)
