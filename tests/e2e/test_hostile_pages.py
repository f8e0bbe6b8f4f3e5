"""Attacks from issue 12 replayed in a real browser: a page on another origin frames the UI
(clickjacking), and a token given in the URL stays in the address bar and the server's log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import serve_app
from tests.e2e.ui import serve_folder

pytestmark = pytest.mark.e2e

TOKEN = "e2e-secret-token-0123456789"


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory, artifacts: Path) -> Iterator[str]:
    """A server that needs ``TOKEN``; its log is ``token-server.log`` in the artifacts."""
    yield from serve_app(tmp_path_factory, artifacts, "token-server", {"OPENDREAM_TOKEN": TOKEN})


def test_another_origin_cannot_frame_the_ui(browser: Browser, server: str, tmp_path: Path) -> None:
    # The hostile site frames the app, and (a control that the check can see a loaded frame)
    # a page of its own.
    (tmp_path / "own.html").write_text("<p id='own'>own page</p>")
    (tmp_path / "index.html").write_text(
        f"<iframe name='app' src='{server}/'></iframe><iframe name='own' src='own.html'></iframe>"
    )
    context = browser.new_context()
    page = context.new_page()
    with serve_folder(tmp_path) as hostile:
        page.goto(f"{hostile}/index.html")
        own = page.frame(name="own")
        assert own is not None
        expect(own.locator("#own")).to_have_text("own page")
        app = page.frame(name="app")
        assert app is not None
        page.wait_for_timeout(1000)  # time for the app to load, were it allowed to
        # Refused: the frame holds Chromium's error page, not the app (no button to click).
        assert not app.url.startswith(server), app.url
        assert app.get_by_role("button").count() == 0
    context.close()


def test_a_token_in_the_url_leaves_the_address_bar_and_the_log(
    browser: Browser, token_server: str, artifacts: Path
) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{token_server}/?token={TOKEN}")
    expect(page.get_by_role("button", name="Create project")).to_be_visible()
    assert page.url == f"{token_server}/", "the token is gone from the address bar"
    page.get_by_label("Name").fill("Tokened")
    page.get_by_role("button", name="Create project").click()  # API calls and the WebSocket
    expect(page.get_by_role("banner")).to_contain_text("Tokened")
    page.reload()  # the cookie carries the token on
    expect(page.get_by_role("banner")).to_contain_text("Tokened")
    context.close()
    log = (artifacts / "token-server.log").read_text()
    assert "token=[redacted]" in log
    assert TOKEN not in log
    # Without the token (another browser profile) the server refuses.
    stranger = browser.new_context()
    response = stranger.new_page().goto(f"{token_server}/api/projects")
    assert response is not None and response.status == 401
    stranger.close()
