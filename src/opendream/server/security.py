"""The security stance of a local server that runs code, as one pure ASGI middleware.

- Token: required when one is configured (always on a non-loopback bind); accepted as
  ``Authorization: Bearer``, ``X-Opendream-Token``, the ``opendream_token`` cookie, or a
  ``?token=`` query (which also sets the cookie, so a browser can open the printed URL).
- Host: on a loopback bind only loopback names are accepted (DNS rebinding).
- Origin: state-changing requests and WebSocket handshakes from another origin,
  ``Origin: null`` or ``Sec-Fetch-Site: cross-site`` are refused (CSRF).
- Bodies are counted while they stream (chunked ones too) and cut off at a cap."""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
COOKIE = "opendream_token"
DEFAULT_MAX_BODY = 2 * 1024 * 1024


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
        try:
            from_query = self._check(scope, headers)
        except Refused as exc:
            await self._refuse(scope, receive, send, exc)
            return
        if from_query:
            send = self._setting_cookie(send)
        if scope["type"] == "http":
            await self._limited(scope, receive, send, headers)
        else:
            await self.app(scope, receive, send)

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
