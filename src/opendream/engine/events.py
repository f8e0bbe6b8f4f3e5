"""Events the engine emits while it works (the server forwards them over the WebSocket)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """``type`` is one of ``layer.started``, ``layer.status``, ``layer.progress``,
    ``layer.download``, ``layer.completed``, and for a run that gave no outputs
    ``layer.failed``, ``layer.cancelled`` or ``layer.consent`` (with its ``error``); ``data``
    is JSON-able except ``preview`` (a PIL image)."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)


EventSink = Callable[[Event], None]


def ignore(_: Event) -> None:
    """The default sink."""
