"""LoRA adapters on a cached base model, applied for one run at a time.

A LoRA is loaded once into the base's shared modules (diffusers' ``load_lora_weights``, peft)
as a named adapter and left disabled. A run with LoRAs holds its base exclusively, enables its
adapters with their weights, denoises and disables them again; a run without LoRAs holds the
base shared with other such runs and so always sees the clean base. Two jobs with different
LoRAs on one base therefore never see each other's adapters: they take turns."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from opendream.diffusion import openvino_backend


def _never() -> None:
    """A wait nobody cancels."""


class SharedExclusiveLock:
    """Many holders at once in ``shared()``, or one alone in ``exclusive()``; a waiting
    exclusive holder goes before shared ones that come after it (no starvation)."""

    CHECK_EVERY_S = 0.1

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0
        self._exclusive = False
        self._waiting = 0

    def _wait(self, ready: Callable[[], bool], check: Callable[[], None]) -> None:
        """Wait (holding the condition) until ``ready()``, calling ``check`` every so often."""
        while not self._cond.wait_for(ready, timeout=self.CHECK_EVERY_S):
            check()

    @contextmanager
    def shared(self, check: Callable[[], None] = _never) -> Iterator[None]:
        """Hold it with others; ``check`` is called while waiting and may raise (a cancel)."""
        with self._cond:
            self._wait(lambda: not self._exclusive and not self._waiting, check)
            self._shared += 1
        try:
            yield
        finally:
            with self._cond:
                self._shared -= 1
                self._cond.notify_all()

    @contextmanager
    def exclusive(self, check: Callable[[], None] = _never) -> Iterator[None]:
        """Hold it alone; ``check`` is called while waiting and may raise (a cancel)."""
        with self._cond:
            self._waiting += 1
            try:
                self._wait(lambda: not self._exclusive and not self._shared, check)
            finally:
                self._waiting -= 1
                self._cond.notify_all()
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


@dataclass
class Adapters:
    """The adapters one run applies (``(name, weight)``; none: the clean base) and the lock of
    the base they live in."""

    lock: SharedExclusiveLock
    active: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def applied(self, pipe: Any, check: Callable[[], None] = _never) -> Iterator[None]:
        """Hold the base for a run of ``pipe`` (a pipeline on it) with these adapters on;
        ``check`` may raise while waiting for another run to let go (a cancel)."""
        if not self.active:
            with self.lock.shared(check):
                yield
            return
        with self.lock.exclusive(check):
            pipe.enable_lora()
            pipe.set_adapters([name for name, _ in self.active], adapter_weights=[w for _, w in self.active])
            try:
                # The converted models have no LoRA in their weights: the run uses torch's.
                with openvino_backend.on_torch(pipe):
                    yield
            finally:
                pipe.disable_lora()
