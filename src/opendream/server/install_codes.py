"""One-time codes that enabling a URL-installed extension over HTTP needs.

Any local process can call the API (a browser cannot, the security middleware sees to that),
so an HTTP call alone must not be enough to make the server run new code. When a download
lands in quarantine the server prints a short code on its own console, never in an HTTP answer,
an event or the log: the human who started the server reads it there and types it into the
confirmation. A process of another account cannot read that console; one of the same account
could write into the extensions folder anyway (docs/extensions.md, threat model)."""

from __future__ import annotations

import hmac
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

CODE_TTL_S = 15 * 60
MAX_ATTEMPTS = 3


def print_to_console(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass
class _Code:
    code: str
    expires: float
    attempts: int = 0


class InstallCodes:
    """Codes by sha256: single use, expire after ``CODE_TTL_S``, void after ``MAX_ATTEMPTS``
    wrong guesses (8 digits and three tries leave a guesser one chance in 33 million)."""

    def __init__(self, announce: Callable[[str], None] = print_to_console) -> None:
        self.announce = announce
        self._codes: dict[str, _Code] = {}
        self._lock = threading.Lock()

    def issue(self, sha256: str, name: str, url: str) -> None:
        digits = f"{secrets.randbelow(10**8):08d}"
        code = f"{digits[:4]}-{digits[4:]}"
        with self._lock:
            self._codes[sha256] = _Code(code, time.monotonic() + CODE_TTL_S)
        self.announce(
            f"\nOpendream: {name} from {url}\n  (sha256 {sha256}) is in quarantine.\n"
            f"  To enable it, type this code in the confirmation: {code}\n"
            "  If you did not ask for this, do nothing: the code expires in 15 minutes.\n"
        )

    def redeem(self, sha256: str, code: str) -> str | None:
        """``None`` when ``code`` is the one issued for ``sha256`` (it is used up); else why not."""
        with self._lock:
            entry = self._codes.get(sha256)
            if entry is None or entry.expires < time.monotonic():
                self._codes.pop(sha256, None)
                return "no confirmation code is waiting for this download; fetch it again for a new one"
            typed = "".join(c for c in code if c.isdigit())
            if hmac.compare_digest(typed.encode(), entry.code.replace("-", "").encode()):
                del self._codes[sha256]
                return None
            entry.attempts += 1
            if entry.attempts >= MAX_ATTEMPTS:
                del self._codes[sha256]
                return "wrong confirmation code, too many times; fetch the file again for a new code"
            return (
                "wrong confirmation code: type the code printed in the terminal where Opendream runs "
                "(the API never sends it)"
            )
