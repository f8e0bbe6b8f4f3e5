"""Keeping secrets (API keys, auth headers) out of what an op reports: services echo them back
in error messages, and a layer's error is shown, logged and stored."""

from __future__ import annotations

from collections.abc import Iterable

#: A secret this long is also redacted by its first and last 8 characters, since services
#: often echo a key shortened ("sk-abc...wxyz").
PARTIAL_FROM = 16


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret (and the 8-character head and tail of a long one) as ``***``."""
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
        if len(secret) >= PARTIAL_FROM:
            text = text.replace(secret[-8:], "***").replace(secret[:8], "***")
    return text
