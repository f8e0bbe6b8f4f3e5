"""Install an extension from a URL, safely (the CLI and the server share it).

1. ``fetch``: only when ``settings.allow_url_install`` is on and the server binds loopback
   only; only http(s); the download is size-capped and time-limited; the file must be UTF-8
   Python that compiles (``compile()``, never executed here). It lands in
   ``<extensions>/.quarantine/`` (which the loader skips) and the caller is shown its source
   URL and sha256.
2. ``enable``: only with that exact sha256, re-checked against the quarantined bytes; the file
   moves into the extensions folder and its source and pinned hash are recorded in
   ``<extensions>/installed.json``. It runs when the extensions are next (re)loaded, never on
   the request that fetched it."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from opendream.core.errors import OpendreamError
from opendream.storage.files import atomic_write

PREVIEW_CHARS = 100_000
MAX_REDIRECTS = 5
QUARANTINE = ".quarantine"
INSTALLED = "installed.json"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}\.py$")


class InstallRefused(OpendreamError):
    """An install from a URL was refused; the message says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Pending:
    """A downloaded extension waiting in quarantine for its hash to be confirmed."""

    url: str
    name: str
    sha256: str
    size: int
    fetched_at: float


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def check_allowed(settings: Any, bind_host: str) -> None:
    """Raise ``InstallRefused`` unless URL installs are enabled and the server binds loopback."""
    if not getattr(settings, "allow_url_install", False):
        raise InstallRefused(
            "installing extensions from a URL is disabled; set OPENDREAM_ALLOW_URL_INSTALL=1 to allow it", 403
        )
    if not is_loopback(bind_host):
        raise InstallRefused(
            f"installing extensions from a URL is only allowed while the server listens on loopback "
            f"only, and it binds {bind_host!r}",
            403,
        )


def _quarantine(settings: Any) -> Path:
    folder = Path(settings.extensions_dir) / QUARANTINE
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _file_name(url: str) -> str:
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    if not _NAME.match(name):
        raise InstallRefused(
            f"{url} does not name a Python extension file: the URL has to end in a file name such as "
            "my_extension.py (a letter, then letters, digits or underscores)"
        )
    return name


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return (
        parts.scheme,
        (parts.hostname or "").lower(),
        parts.port or {"http": 80, "https": 443}.get(parts.scheme),
    )


def _download(url: str, max_bytes: int, timeout: float) -> tuple[str, bytes]:
    """The final URL and the body. Redirects are followed only within ``url``'s origin: the
    user approves what they were shown, and another host is not what they were shown."""
    import httpx

    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            for _ in range(MAX_REDIRECTS + 1):
                with client.stream("GET", url) as response:
                    if response.is_redirect:
                        target = urljoin(url, response.headers["location"])
                        if _origin(target) != _origin(url):
                            raise InstallRefused(
                                f"{url} redirects to another origin ({target}); nothing was installed. "
                                "Install from the final URL if you trust it."
                            )
                        url = target
                        continue
                    return url, _body(url, response, max_bytes, timeout)
            raise InstallRefused(f"{url} redirects more than {MAX_REDIRECTS} times; nothing was installed")
    except httpx.TimeoutException:
        raise InstallRefused(
            f"downloading {url} timed out after {timeout:g}s; nothing was installed", 504
        ) from None
    except httpx.HTTPError as exc:
        raise InstallRefused(f"cannot download {url} ({type(exc).__name__}: {exc})", 502) from None


def _body(url: str, response: Any, max_bytes: int, timeout: float) -> bytes:
    import httpx

    if response.status_code != 200:
        raise InstallRefused(f"{url} answered {response.status_code}; nothing was installed")
    declared = int(response.headers.get("content-length") or 0)
    if declared > max_bytes:
        raise InstallRefused(f"{url} is {declared} bytes; an extension may be at most {max_bytes}", 413)
    chunks, received = [], 0
    deadline = time.monotonic() + timeout
    for chunk in response.iter_bytes():
        received += len(chunk)
        if received > max_bytes:
            raise InstallRefused(f"{url} is larger than {max_bytes} bytes; refused", 413)
        if time.monotonic() > deadline:  # a server trickling bytes never trips the read timeout
            raise httpx.ReadTimeout("download took too long")
        chunks.append(chunk)
    return b"".join(chunks)


def fetch(
    url: str,
    settings: Any,
    bind_host: str,
    *,
    max_bytes: int | None = None,
    timeout: float | None = None,
) -> Pending:
    """Download ``url`` into quarantine after every check; never executes it. The size and
    time limits default to ``settings.extension_max_bytes`` / ``extension_download_timeout_s``."""
    check_allowed(settings, bind_host)
    max_bytes = max_bytes or settings.extension_max_bytes
    timeout = timeout or settings.extension_download_timeout_s
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InstallRefused(f"only http:// and https:// URLs can be installed, not {url!r}")
    url = parts.geturl()
    name = _file_name(url)
    url, data = _download(url, max_bytes, timeout)  # the URL pinned is the one the bytes came from
    name = _file_name(url)
    try:
        compile(data.decode("utf-8"), name, "exec", dont_inherit=True)
    except UnicodeDecodeError:
        raise InstallRefused(f"{url} is not Python: it is not UTF-8 text") from None
    except (SyntaxError, ValueError) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
        message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise InstallRefused(f"{url} is not Python{where}: {message}") from None
    digest = hashlib.sha256(data).hexdigest()
    pending = Pending(url=url, name=name, sha256=digest, size=len(data), fetched_at=time.time())
    folder = _quarantine(settings)
    atomic_write(folder / f"{digest}.py.txt", data)  # not *.py: nothing imports quarantined code
    atomic_write(folder / f"{digest}.json", json.dumps(asdict(pending), indent=1).encode())
    return pending


def preview(settings: Any, sha256: str, max_chars: int = PREVIEW_CHARS) -> tuple[str, bool]:
    """The text of a quarantined download, cut at ``max_chars``; and whether it was cut."""
    path = Path(settings.extensions_dir) / QUARANTINE / f"{sha256}.py.txt"
    if not _SHA256.match(sha256) or not path.is_file():
        raise InstallRefused(f"no download with sha256 {sha256} is waiting in quarantine", 404)
    text = path.read_text("utf-8")  # checked to be UTF-8 when it was fetched
    return text[:max_chars], len(text) > max_chars


def pending(settings: Any) -> list[Pending]:
    """Everything waiting in quarantine."""
    folder = Path(settings.extensions_dir) / QUARANTINE
    found = []
    for meta in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            found.append(Pending(**json.loads(meta.read_text("utf-8"))))
        except (OSError, ValueError, TypeError):
            continue
    return found


def installed(settings: Any) -> dict[str, dict]:
    """``installed.json``: extension file name -> ``{"url", "sha256", "installed_at"}``."""
    path = Path(settings.extensions_dir) / INSTALLED
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InstallRefused(f"{path} is unreadable ({exc}); fix or remove it", 500) from None
    return data if isinstance(data, dict) else {}


def waiting(settings: Any, sha256: str) -> Pending:
    """The quarantined download named by its full sha256 (400 for a malformed hash, 404 when
    none is waiting)."""
    sha256 = sha256.strip().lower()
    if not _SHA256.match(sha256):
        raise InstallRefused("confirm with the full sha256 shown for the download (64 hex digits)")
    folder = Path(settings.extensions_dir) / QUARANTINE
    source, meta = folder / f"{sha256}.py.txt", folder / f"{sha256}.json"
    try:
        if source.is_file():
            return Pending(**json.loads(meta.read_text("utf-8")))
    except (OSError, ValueError, TypeError):
        pass
    raise InstallRefused(f"no download with sha256 {sha256} is waiting in quarantine; fetch it again", 404)


def enable(settings: Any, sha256: str, bind_host: str) -> Path:
    """Move the quarantined file whose hash is exactly ``sha256`` into the extensions folder
    and pin its hash; returns its new path. It is loaded on the next (re)load."""
    check_allowed(settings, bind_host)
    sha256 = waiting(settings, sha256).sha256
    folder = _quarantine(settings)
    source, meta = folder / f"{sha256}.py.txt", folder / f"{sha256}.json"
    data = source.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise InstallRefused("the quarantined file changed since it was downloaded; fetch it again", 409)
    info = Pending(**json.loads(meta.read_text("utf-8")))
    records = installed(settings)
    target = Path(settings.extensions_dir) / info.name
    if target.exists() and info.name not in records:
        raise InstallRefused(
            f"{target} exists and was not installed from a URL; remove or rename it first", 409
        )
    atomic_write(target, data)
    records[info.name] = {"url": info.url, "sha256": sha256, "installed_at": time.time()}
    atomic_write(target.parent / INSTALLED, json.dumps(records, indent=1, sort_keys=True).encode())
    source.unlink()
    meta.unlink()
    return target


def discard(settings: Any, sha256: str) -> None:
    """Delete a quarantined download (the user declined it)."""
    sha256 = sha256.strip().lower()
    if not _SHA256.match(sha256):
        raise InstallRefused("name the download by its full sha256 (64 hex digits)")
    folder = Path(settings.extensions_dir) / QUARANTINE
    files = [folder / f"{sha256}{suffix}" for suffix in (".py.txt", ".json")]
    if not any(path.is_file() for path in files):
        raise InstallRefused(f"no download with sha256 {sha256} is waiting in quarantine", 404)
    for path in files:
        path.unlink(missing_ok=True)
