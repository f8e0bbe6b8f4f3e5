"""Tokenizers that one call at a time uses.

A Hugging Face fast tokenizer keeps its padding and truncation settings in the Rust object it
wraps and sets them on every call; diffusers' ``encode_prompt`` calls it twice with other
settings (``max_length`` padding, then ``longest`` to warn about truncation). Two jobs encoding
at once on one cached pipeline could therefore encode a prompt with the other call's settings:
an unpadded prompt, another picture. A run's pipeline instance gets its tokenizers behind a
lock per tokenizer instead (copies are not faithful: a deep copy of CLIP's decodes otherwise,
which compel's embedding expansion relies on)."""

from __future__ import annotations

import threading
import weakref
from typing import Any

#: A lock per shared tokenizer, dropped with it (not kept on it: a lock cannot be copied).
_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


class Serialized:
    """``tokenizer`` with each of its method calls made under its lock; anything else read
    through. It reports the tokenizer's class, so type checks see the tokenizer."""

    def __init__(self, tokenizer: Any) -> None:
        with _GUARD:
            lock = _LOCKS.setdefault(tokenizer, threading.Lock())
        object.__setattr__(self, "_tokenizer", tokenizer)
        object.__setattr__(self, "_lock", lock)

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return type(self._tokenizer)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return self._tokenizer(*args, **kwargs)

    def __len__(self) -> int:
        return len(self._tokenizer)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._tokenizer, name)
        if not callable(value) or isinstance(value, type):
            return value

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return value(*args, **kwargs)

        return locked

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._tokenizer, name, value)


def serialize_tokenizers(pipe: Any) -> None:
    """Put the run instance ``pipe``'s fast tokenizers behind their locks (``run_instance``)."""
    for name, component in list(pipe.components.items()):
        if name.startswith("tokenizer") and hasattr(component, "backend_tokenizer"):
            setattr(pipe, name, Serialized(component))
