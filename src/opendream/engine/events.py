"""The events of a layer run: one vocabulary for every face. The runner emits them to the CLI's
progress bar and ``opendream.testing``; the server's worker sends the same names over its
WebSocket, adding the job and the project (``server/ws_models.py`` declares those)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

#: ``layers`` (the group) and ``op``.
STARTED: Final = "job.started"
#: ``step``, ``total`` and ``preview`` (a PIL image here, a base64 JPEG on the wire, or none).
PROGRESS: Final = "job.progress"
#: ``text``: what the op is doing before its first step ("loading model …").
STATUS: Final = "job.status"
#: ``done_bytes`` and ``total_bytes`` (0 when not known yet) of a model download.
DOWNLOAD: Final = "job.download"
#: The run gave its outputs.
COMPLETED: Final = "job.completed"
#: The run gave no outputs: it failed, was cancelled, or waits for the user's consent.
FAILED: Final = "job.failed"
CANCELLED: Final = "job.cancelled"
CONSENT: Final = "consent.needed"


@dataclass(frozen=True)
class Event:
    """One of the names above and its ``data``, which always has the group's ``layers``; a run
    that gave no outputs says why in ``error``, a completed one its ``outcome``."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)


EventSink = Callable[[Event], None]


def ignore(_: Event) -> None:
    """The default sink."""
