"""The security stance of a local server that runs code, as one pure ASGI middleware.

- Token: required when one is configured (always on a non-loopback bind); accepted as
  ``Authorization: Bearer``, ``X-Opendream-Token``, the ``opendream_token`` cookie, or a
  ``?token=`` query (which also sets the cookie, so a browser can open the printed URL; a
  page load is then redirected to the same URL without it, out of the address bar).
- Host: on a loopback bind only loopback names are accepted (DNS rebinding).
- Origin: state-changing requests and WebSocket handshakes from another origin,
  ``Origin: null`` or ``Sec-Fetch-Site: cross-site`` are refused (CSRF).
- Bodies are counted while they stream (chunked ones too) and cut off at a cap.
- Every HTTP answer may not be framed (clickjacking), runs only same-origin code (CSP) and
  may not be embedded by another origin (``Cross-Origin-Resource-Policy``: no probing of
  which blobs exist with an ``<img>``)."""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
COOKIE = "opendream_token"
DEFAULT_MAX_BODY = 2 * 1024 * 1024
# The built UI loads only its own files; previews are data: URIs. A route that needs more
# (the optional API docs page) sets its own Content-Security-Policy, which is kept.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
RESPONSE_HEADERS = (
    ("x-frame-options", "DENY"),
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("cross-origin-resource-policy", "same-origin"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
)
_TOKEN_IN_TEXT = re.compile(r"(?<=[?&]token=)[^&\s\"']+")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (the bind address or a Host name)."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_host(value: str) -> str:
    """The name part of a ``Host`` header or an origin's netloc (``[::1]:8000`` -> ``::1``)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail


class SecurityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        loopback_only: bool,
        token: str | None,
        max_body: int = DEFAULT_MAX_BODY,
        large_bodies: dict[str, int] | None = None,
    ) -> None:
        """``large_bodies`` maps a path suffix (``/uploads``) to its own body cap."""
        self.app = app
        self.loopback_only = loopback_only
        self.token = token
        self.max_body = max_body
        self.large_bodies = large_bodies or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["type"] == "http":
            send = _with_headers(send)
        try:
            from_query = self._check(scope, headers)
        except Refused as exc:
            await self._refuse(scope, receive, send, exc)
            return
        if from_query:
            send = self._setting_cookie(send)
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
        elif from_query and scope["method"] in ("GET", "HEAD") and _is_page_load(scope, headers):
            await _send_redirect(send, _without_token(scope))
        else:
            await self._limited(scope, receive, send, headers)

    # -- checks --------------------------------------------------------------------------------

    def _check(self, scope: Scope, headers: dict[str, str]) -> bool:
        """Raise ``Refused`` unless the request may pass; True when the token came in the query."""
        host = headers.get("host", "")
        if self.loopback_only and not is_loopback(split_host(host)):
            raise Refused(403, f"Host {host!r} is not a loopback name; open the app at http://127.0.0.1")
        from_query = False
        if self.token is not None:
            given, from_query = self._given_token(scope, headers)
            if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
                raise Refused(401, "a valid token is required (Authorization: Bearer <token>)")
        if scope["type"] == "websocket" or scope["method"] not in SAFE_METHODS:
            self._check_origin(headers)
        return from_query

    @staticmethod
    def _check_origin(headers: dict[str, str]) -> None:
        if headers.get("sec-fetch-site", "").lower() == "cross-site":
            raise Refused(403, "cross-site requests are refused")
        origin = headers.get("origin")
        if origin is None:
            return  # not a browser (curl, scripts): nothing to forge
        if origin.strip().lower() == "null":
            raise Refused(403, "requests with Origin: null are refused")
        netloc = urlsplit(origin).netloc.lower()
        if not netloc or netloc != headers.get("host", "").lower():
            raise Refused(403, f"cross-origin request from {origin!r} refused")

    @staticmethod
    def _given_token(scope: Scope, headers: dict[str, str]) -> tuple[str | None, bool]:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip(), False
        if "x-opendream-token" in headers:
            return headers["x-opendream-token"].strip(), False
        if "cookie" in headers:
            cookie = SimpleCookie()
            try:
                cookie.load(headers["cookie"])
            except Exception:
                cookie = SimpleCookie()
            if COOKIE in cookie:
                return cookie[COOKIE].value, False
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if "token" in query:
            return query["token"][0], True
        return None, False

    def _setting_cookie(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start" and self.token is not None:
                cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode())]
            await send(message)

        return wrapped

    # -- answers -------------------------------------------------------------------------------

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, refused: Refused) -> None:
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008, "reason": refused.detail[:120]})
            return
        await _send_json(send, refused.status, {"detail": refused.detail})

    def _cap(self, path: str) -> int:
        for suffix, cap in self.large_bodies.items():
            if path.endswith(suffix):
                return cap
        return self.max_body

    async def _limited(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        cap = self._cap(scope["path"])
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            await _send_json(send, 413, {"detail": f"request body is over the {cap}-byte limit"})
            return
        received = 0
        too_large = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    # Stop feeding the app; whatever it answers is replaced by the 413 below.
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await _send_json(send, 413, {"detail": f"request body is over the {cap}-byte limit"})


def _is_page_load(scope: Scope, headers: dict[str, str]) -> bool:
    """A browser navigation or a UI path: what leaves the URL in an address bar. API calls
    with ``?token=`` (scripts) are answered as they are."""
    path = scope["path"]
    api = path == "/api" or path.startswith("/api/")
    return not api or headers.get("sec-fetch-mode", "").lower() == "navigate"


def _without_token(scope: Scope) -> str:
    """The request's path and query with every ``token`` parameter removed."""
    query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    kept = urlencode([(k, v) for k, v in query if k != "token"])
    raw = scope.get("raw_path") or scope["path"].encode()
    path = "/" + raw.decode("latin-1").lstrip("/")  # never `//host`: that would leave the site
    return f"{path}?{kept}" if kept else path


def redact_tokens(text: str) -> str:
    """``text`` with the value of every ``token=`` query parameter replaced by ``[redacted]``."""
    return _TOKEN_IN_TEXT.sub("[redacted]", text)


class RedactTokens(logging.Filter):
    """Rewrites log records (uvicorn's access and WebSocket lines) so a ``?token=`` in a
    logged URL never reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_tokens(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact_tokens(record.msg)
        return True


def redact_token_logs(names: tuple[str, ...] = ("uvicorn.access", "uvicorn.error")) -> None:
    """Install ``RedactTokens`` on the server loggers (once)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


def _with_headers(send: Send) -> Send:
    """``send`` adding ``RESPONSE_HEADERS`` to the response, except those the app already set."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {k.lower() for k, _ in message.get("headers", [])}
            extra = [(k.encode(), v.encode()) for k, v in RESPONSE_HEADERS if k.encode() not in present]
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    return wrapped


async def _send_redirect(send: Send, location: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode("latin-1")), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})
