"""Browser tests: a real ``opendream serve --tiny-models`` process on a free loopback port, driven
by Playwright through Debian's Chromium. Any page error or console error fails the test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
import pytest
from playwright import sync_api

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "opendream" / "server" / "static" / "index.html"
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT = 120.0
# What an assertion waits for before it fails (Playwright's default is 5 s): a UI change that
# needs a server round trip has taken over 5 s on a loaded 2-core machine. A passing assertion
# returns as soon as it holds, so this costs only a failing test's time.
sync_api.expect.set_options(timeout=15_000)


def _free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def serve_app(
    tmp_path_factory: pytest.TempPathFactory, artifacts: Path, name: str, env: dict[str, str]
) -> Iterator[str]:
    """Run ``opendream serve --tiny-models`` on a fresh data directory; yield its base URL."""
    if not STATIC.is_file():
        pytest.fail(
            f"the web UI is not built ({STATIC} is missing): run `npm ci && npm run build` in frontend/"
        )
    port = _free_port()
    data_dir = tmp_path_factory.mktemp(f"e2e-{name}-data")
    command = [
        str(Path(sys.executable).parent / "opendream"),
        "serve",
        "--tiny-models",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
    ]
    log_path = artifacts / f"{name}.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "OMP_NUM_THREADS": "2", **env},
    )
    base = f"http://127.0.0.1:{port}"
    token = env.get("OPENDREAM_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode}; see {log_path}")
            try:
                if httpx.get(f"{base}/api/health", headers=headers, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer within {START_TIMEOUT} s")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, artifacts: Path) -> Iterator[str]:
    """The base URL of a server with tiny models on a fresh data directory."""
    # URL installs stay off here whatever the environment says: the story checks the refusal.
    yield from serve_app(tmp_path_factory, artifacts, "server", {"OPENDREAM_ALLOW_URL_INSTALL": "0"})


@pytest.fixture(scope="module")
def url_install_server(tmp_path_factory: pytest.TempPathFactory, artifacts: Path) -> Iterator[str]:
    """Like ``server``, on its own data directory, with installing extensions from a URL allowed."""
    yield from serve_app(
        tmp_path_factory, artifacts, "url-install-server", {"OPENDREAM_ALLOW_URL_INSTALL": "1"}
    )


# Module scope, not session: Playwright's sync API keeps an event loop running in this
# thread until it stops, which would break later tests that call asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    chromium = shutil.which("chromium")
    # A missing browser is a failure, not a skip: run_tests.sh installs it.
    assert chromium is not None, "Chromium is not installed (apt-get install -y chromium)"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextmanager
def open_page(browser: sync_api.Browser, base: str) -> Iterator[sync_api.Page]:
    """A 1280x800 page on the app; fails the test on any page error or console error."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}") if message.type == "error" else None
        ),
    )
    page.goto(base)
    yield page
    context.close()
    assert problems == [], "\n".join(problems)


@pytest.fixture
def page(browser: sync_api.Browser, server: str) -> Iterator[sync_api.Page]:
    """A 1280x800 page on the app; fails the test on any page error or console error."""
    with open_page(browser, server) as page:
        yield page


@pytest.fixture
def url_install_page(browser: sync_api.Browser, url_install_server: str) -> Iterator[sync_api.Page]:
    """``page``, on the server that allows installing extensions from a URL."""
    with open_page(browser, url_install_server) as page:
        yield page
