"""The hooks a layer run reports through and is stopped by: one object from the face that asked
(the CLI's progress bar, the server's events) down to the op's ``Context``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image


def _nothing(*_: object) -> None:
    """The hook of a caller that does not listen."""


@dataclass
class Hooks:
    """What a run reports while it works and how it is stopped. Every field is optional."""

    #: ``(step, total, preview)`` after each denoising step; ``preview`` may be ``None``.
    progress: Callable[[int, int, Image.Image | None], None] = _nothing
    #: A line of what the op is doing ("loading model …").
    status: Callable[[str], None] = _nothing
    #: ``(done_bytes, total_bytes)`` of a model download.
    download: Callable[[int, int], None] = _nothing
    #: Set to stop the op at its next step.
    cancel: threading.Event | None = None
    #: ``(worker, node)`` a remote executor sent the run to (again, when it moved it).
    placed: Callable[[str, str], None] = _nothing

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()
