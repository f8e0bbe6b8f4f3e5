"""Install an extension from a URL against a local HTTP server: quarantine, hash confirmation,
pinning, and every refusal (disabled, non-loopback bind, scheme, size, timeout, not Python)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opendream.core.registry import OpRegistry
from opendream.engine import installer
from opendream.engine.installer import InstallRefused
from opendream.engine.loader import load_extension_dirs
from opendream.settings import Settings
from tests.fake_services import FakeService, Reply, files, serve

FIXTURES = Path(__file__).parent / "fixtures" / "extensions"
GOOD = (FIXTURES / "mirror_url.py").read_bytes()
GOOD_SHA = hashlib.sha256(GOOD).hexdigest()


@pytest.fixture
def server() -> Iterator[FakeService]:
    with serve(FakeService()) as service:
        files(
            service,
            {
                "/mirror_url.py": (GOOD, "text/x-python"),
                "/broken.py": (b"def oops(:\n    pass\n", "text/x-python"),
                "/binary.py": (b"\xff\xfe\x00\x01" * 10, "application/octet-stream"),
                "/big.py": (b"#" * 5000, "text/x-python"),
                "/page.html": (b"<html></html>", "text/html"),
            },
        )
        yield service


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    # The fixture extension writes this file when (and only when) it is executed.
    monkeypatch.setenv("MIRROR_URL_MARKER", str(tmp_path / "executed"))
    return Settings(data_dir=tmp_path / "data", allow_url_install=True)


def test_fetch_quarantines_without_running_then_enable_pins_the_hash(
    server: FakeService, settings: Settings, ops: OpRegistry, tmp_path: Path
) -> None:
    pending = installer.fetch(f"{server.url}/mirror_url.py", settings, "127.0.0.1")
    assert (pending.name, pending.sha256, pending.size) == ("mirror_url.py", GOOD_SHA, len(GOOD))
    assert pending.url == f"{server.url}/mirror_url.py"
    assert installer.pending(settings) == [pending]
    assert not (tmp_path / "executed").exists(), "fetching never runs the code"
    assert not (settings.extensions_dir / "mirror_url.py").exists()
    assert load_extension_dirs([settings.extensions_dir], ops) == [], "quarantine is not loaded"

    with pytest.raises(InstallRefused, match="no download with sha256"):
        installer.enable(settings, "0" * 64, "127.0.0.1")
    with pytest.raises(InstallRefused, match="full sha256"):
        installer.enable(settings, GOOD_SHA[:12], "127.0.0.1")
    target = installer.enable(settings, GOOD_SHA.upper(), "localhost")
    assert target == settings.extensions_dir / "mirror_url.py" and target.read_bytes() == GOOD
    assert not (tmp_path / "executed").exists(), "enabling does not run it either"
    record = json.loads((settings.extensions_dir / "installed.json").read_text())["mirror_url.py"]
    assert record["url"] == f"{server.url}/mirror_url.py" and record["sha256"] == GOOD_SHA
    assert installer.installed(settings)["mirror_url.py"]["sha256"] == GOOD_SHA
    assert installer.pending(settings) == []

    (status,) = load_extension_dirs([settings.extensions_dir], ops)
    assert status.error is None and status.ops == ["mirror_url"]
    assert (tmp_path / "executed").exists()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_binds_are_allowed(host: str, settings: Settings) -> None:
    installer.check_allowed(settings, host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.org", ""])
def test_refused_unless_the_server_binds_loopback_only(
    server: FakeService, settings: Settings, host: str
) -> None:
    with pytest.raises(InstallRefused, match="only allowed while the server listens on loopback") as info:
        installer.fetch(f"{server.url}/mirror_url.py", settings, host)
    assert info.value.status == 403 and server.requests == [], "refused before any download"


def test_refused_when_disabled_in_settings(server: FakeService, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with pytest.raises(InstallRefused, match="OPENDREAM_ALLOW_URL_INSTALL=1"):
        installer.fetch(f"{server.url}/mirror_url.py", settings, "127.0.0.1")
    with pytest.raises(InstallRefused, match="disabled"):
        installer.enable(settings, GOOD_SHA, "127.0.0.1")
    assert server.requests == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd.py", "only http:// and https://"),
        ("ftp://127.0.0.1/x.py", "only http:// and https://"),
        ("javascript:alert(1)", "only http:// and https://"),
        ("http:///nohost.py", "only http:// and https://"),
        ("{url}/page.html", "does not name a Python extension file"),
        ("{url}/", "does not name a Python extension file"),
        ("{url}/..%2F..%2Fetc.py", "does not name a Python extension file"),
        ("{url}/missing.py", "answered 404"),
        ("{url}/broken.py", "is not Python (line 1)"),
        ("{url}/binary.py", "is not Python: it is not UTF-8 text"),
    ],
)
def test_refusals_name_the_reason(server: FakeService, settings: Settings, url: str, message: str) -> None:
    with pytest.raises(InstallRefused) as info:
        installer.fetch(url.format(url=server.url), settings, "127.0.0.1")
    assert message in info.value.message
    assert installer.pending(settings) == []


def test_too_large_refused_by_declared_length_and_while_streaming(
    server: FakeService, settings: Settings
) -> None:
    with pytest.raises(InstallRefused, match="is 5000 bytes; an extension may be at most 1000") as info:
        installer.fetch(f"{server.url}/big.py", settings, "127.0.0.1", max_bytes=1000)
    assert info.value.status == 413
    server.queue(Reply(200, b"#" * 5000, "text/x-python", send_length=False))
    with pytest.raises(InstallRefused, match="larger than 1000 bytes"):
        installer.fetch(f"{server.url}/big.py", settings, "127.0.0.1", max_bytes=1000)
    assert installer.pending(settings) == []


def test_timeout_refused(server: FakeService, settings: Settings) -> None:
    server.queue(Reply(200, GOOD, "text/x-python", delay=1.0))
    with pytest.raises(InstallRefused, match=r"timed out after 0\.2s"):
        installer.fetch(f"{server.url}/mirror_url.py", settings, "127.0.0.1", timeout=0.2)


def test_enable_refuses_a_tampered_download_and_a_users_own_file(
    server: FakeService, settings: Settings
) -> None:
    installer.fetch(f"{server.url}/mirror_url.py", settings, "127.0.0.1")
    quarantined = settings.extensions_dir / ".quarantine" / f"{GOOD_SHA}.py.txt"
    quarantined.write_bytes(GOOD + b"\nimport os\n")
    with pytest.raises(InstallRefused, match="changed since it was downloaded"):
        installer.enable(settings, GOOD_SHA, "127.0.0.1")

    installer.fetch(f"{server.url}/mirror_url.py", settings, "127.0.0.1")
    own = settings.extensions_dir / "mirror_url.py"
    own.write_text("# the user's own file\n")
    with pytest.raises(InstallRefused, match="was not installed from a URL"):
        installer.enable(settings, GOOD_SHA, "127.0.0.1")
    assert own.read_text() == "# the user's own file\n"
    installer.discard(settings, GOOD_SHA)
    assert installer.pending(settings) == []


def test_cli_install_confirms_the_exact_hash(server: FakeService, settings: Settings, monkeypatch) -> None:
    from opendream.cli import app

    monkeypatch.setenv("OPENDREAM_ALLOW_URL_INSTALL", "1")
    runner = CliRunner()
    data = ["--data-dir", str(settings.data_dir)]
    url = f"{server.url}/mirror_url.py"

    result = runner.invoke(app, ["extensions", "install", url, *data])
    output = " ".join(result.output.split())  # rich wraps long lines
    assert result.exit_code == 1 and f"--yes-hash {GOOD_SHA}" in output
    assert f"source: {url}" in output and not (settings.extensions_dir / "mirror_url.py").exists()

    result = runner.invoke(app, ["extensions", "install", url, "--yes-hash", "ab" * 32, *data])
    assert result.exit_code == 1 and "does not match" in result.output
    assert installer.pending(settings) == [] and not (settings.extensions_dir / "mirror_url.py").exists()

    result = runner.invoke(app, ["extensions", "install", url, "--yes-hash", GOOD_SHA, *data])
    assert result.exit_code == 0, result.output
    assert (settings.extensions_dir / "mirror_url.py").read_bytes() == GOOD
    assert installer.installed(settings)["mirror_url.py"]["sha256"] == GOOD_SHA

    monkeypatch.setenv("OPENDREAM_ALLOW_URL_INSTALL", "0")
    result = runner.invoke(app, ["extensions", "install", url, "--yes-hash", GOOD_SHA, *data])
    assert result.exit_code == 2 and "disabled" in result.output
    monkeypatch.setenv("OPENDREAM_ALLOW_URL_INSTALL", "1")
    monkeypatch.setenv("OPENDREAM_HOST", "0.0.0.0")
    result = runner.invoke(app, ["extensions", "install", url, "--yes-hash", GOOD_SHA, *data])
    assert result.exit_code == 2 and "loopback" in result.output


def test_a_redirect_to_another_origin_is_refused_and_one_within_pins_the_final_url(
    server: FakeService, settings: Settings
) -> None:
    """A redirect to another host was followed while the preview showed the first URL."""
    with serve(FakeService()) as elsewhere:
        files(elsewhere, {"/mirror_url.py": (GOOD, "text/x-python")})
        server.route(
            "GET",
            "/away.py",
            lambda r: Reply(302, b"", headers={"Location": f"{elsewhere.url}/mirror_url.py"}),
        )
        with pytest.raises(InstallRefused, match="redirects to another origin"):
            installer.fetch(f"{server.url}/away.py", settings, "127.0.0.1")
        assert elsewhere.requests == [] and installer.pending(settings) == []

    server.route(
        "GET", "/moved/mirror_url.py", lambda r: Reply(301, b"", headers={"Location": "/mirror_url.py"})
    )
    pending = installer.fetch(f"{server.url}/moved/mirror_url.py", settings, "127.0.0.1")
    assert pending.url == f"{server.url}/mirror_url.py" and pending.sha256 == GOOD_SHA

    server.route("GET", "/loop.py", lambda r: Reply(302, b"", headers={"Location": "/loop.py"}))
    with pytest.raises(InstallRefused, match="redirects more than"):
        installer.fetch(f"{server.url}/loop.py", settings, "127.0.0.1")
