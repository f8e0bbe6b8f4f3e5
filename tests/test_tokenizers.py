"""Concurrent runs on one cached pipeline tokenize one call at a time: a fast tokenizer sets
its padding and truncation on its shared Rust object at each call, so two runs encoding at once
could each get the other's settings (an unpadded prompt: another picture; seen as a 1-in-6
failure of the concurrent LoRA test)."""

from __future__ import annotations

import threading
import time
from typing import Any

from opendream.diffusion.manager import ModelManager
from opendream.diffusion.tokenizers import Serialized
from opendream.pipelines import run_instance


def test_a_runs_tokenizer_is_the_shared_one_behind_a_lock(tiny_settings: Any) -> None:
    cached = ModelManager(tiny_settings, device="cpu", dtype="float32").get("txt2img")
    shared = cached.tokenizer
    tokenizer = run_instance(cached).tokenizer
    assert isinstance(vars(tokenizer)["_tokenizer"], type(shared)), "behind its lock"
    assert isinstance(tokenizer, type(shared)) and cached.tokenizer is shared
    asked = {"padding": "max_length", "max_length": 77, "truncation": True}
    assert tokenizer("a lighthouse", **asked).input_ids == shared("a lighthouse", **asked).input_ids
    ids = shared.encode("a red lighthouse", add_special_tokens=False)
    assert tokenizer.decode(ids) == shared.decode(ids) and len(tokenizer) == len(shared)
    shared.add_tokens(["<my-style>"])  # as a textual-inversion embedding loads: seen at once
    assert tokenizer("<my-style>").input_ids == shared("<my-style>").input_ids


def test_calls_take_turns(tiny_settings: Any, monkeypatch: Any) -> None:
    cached = ModelManager(tiny_settings, device="cpu", dtype="float32").get("txt2img")
    first, second = Serialized(cached.tokenizer), Serialized(cached.tokenizer)
    inside: list[int] = []
    overlapped: list[bool] = []
    real = type(cached.tokenizer).__call__

    def slow(self: Any, *args: Any, **kwargs: Any) -> Any:
        inside.append(1)
        overlapped.append(len(inside) > 1)
        time.sleep(0.05)
        inside.pop()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(cached.tokenizer), "__call__", slow)
    threads = [threading.Thread(target=lambda t=t: [t("a") for _ in range(4)]) for t in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(overlapped) == 8 and not any(overlapped)
