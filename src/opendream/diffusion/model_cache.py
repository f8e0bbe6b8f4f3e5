"""The model cache: what the model manager holds in memory, and the rule that evicts it.

One entry per loaded set of weights, keyed by (source kind, location, revision, device,
dtype or role). Entries are evicted least-recently-used first when the memory budget is
exceeded: the cache drops its references, runs the garbage collector and empties the CUDA
cache. One lock guards the entries; one lock per key lets two jobs asking for the same model
load it once while other models load in parallel."""

from __future__ import annotations

import gc
import logging
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opendream.diffusion.adapters import SharedExclusiveLock
from opendream.diffusion.model_sources import Source

log = logging.getLogger("opendream.diffusion.manager")


@dataclass
class CachedModel:
    """One loaded set of weights and every pipeline made from it (or one other model ``load``
    made, under its ``role``)."""

    key: tuple
    source: Source
    pipe: Any
    pipelines: dict[tuple, Any] = field(default_factory=dict)
    extras: dict[tuple, Any] = field(default_factory=dict)
    nbytes: int = 0
    role: str | None = None  # set for a model ``load`` made (not a pipeline)
    #: Held by every run on the base: shared without LoRAs, exclusive with (``adapters.py``).
    adapter_lock: SharedExclusiveLock = field(default_factory=SharedExclusiveLock)


def module_bytes(modules: list[Any]) -> int:
    """Bytes of parameters and buffers of ``modules``, each tensor counted once."""
    seen: set[int] = set()
    total = 0
    for module in modules:
        if not hasattr(module, "parameters"):
            continue
        for tensor in [*module.parameters(), *module.buffers()]:
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            total += tensor.numel() * tensor.element_size()
    return total


def auto_budget(device: str) -> int:
    if device == "cuda":
        import torch

        return int(torch.cuda.get_device_properties(0).total_memory * 0.8)
    from opendream.diffusion.offload import host_memory

    return int(host_memory() * 0.6)


def estimate_bytes(source: Source, dtype: str) -> int:
    """Rough size of a source once loaded (weights on disk, scaled to ``dtype``); 0 if unknown."""
    if source.kind == "hub":
        return 0
    path = Path(source.location)
    if source.kind == "folder":
        files = [
            p
            for p in path.rglob("*")
            if p.suffix in (".safetensors", ".bin") and "safety_checker" not in p.parts
        ]
        size = sum(p.stat().st_size for p in files)
        fp16_on_disk = any(".fp16." in p.name for p in files)
    else:
        size, fp16_on_disk = path.stat().st_size, False
    if dtype == "float32" and fp16_on_disk:
        return size * 2
    if dtype == "float16" and not fp16_on_disk:
        return size // 2
    return size


class ModelCache:
    """Loaded models under a memory budget (bytes), least recently used first out."""

    def __init__(self, device: str, budget_bytes: int) -> None:
        self.device = device
        self.budget_bytes = budget_bytes
        self.lock = threading.RLock()
        self._entries: OrderedDict[tuple, CachedModel] = OrderedDict()
        self._key_locks: dict[tuple, threading.Lock] = {}
        #: Counters for tests and benchmarks: ``loads`` (weights read from disk), ``derived``
        #: (pipelines made with ``from_pipe``), ``evictions``.
        self.stats: Counter[str] = Counter()

    def key_lock(self, key: tuple) -> threading.Lock:
        """The lock that makes one loader of ``key`` wait for another."""
        with self.lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def get(self, key: tuple) -> CachedModel | None:
        """The entry of ``key``, marked as just used; ``None`` when it is not loaded."""
        with self.lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def add(self, entry: CachedModel) -> None:
        """Keep ``entry``, then evict others until the budget holds (never ``entry`` itself)."""
        with self.lock:
            self._entries[entry.key] = entry
        self.make_room(0, keep=entry.key)

    def make_room(self, incoming: int, keep: tuple | None) -> None:
        """Evict the least recently used entries (but ``keep``) until ``incoming`` more fits."""
        with self.lock:
            evicted = False
            while self._entries and self.used_bytes + incoming > self.budget_bytes:
                oldest = next((k for k in self._entries if k != keep), None)
                if oldest is None:
                    break
                self._drop(oldest)
                evicted = True
        if evicted:
            self._free()

    def entry_of(self, pipe: Any) -> CachedModel | None:
        """The entry one of whose pipelines ``pipe`` is (or shares its modules with)."""
        with self.lock:
            for entry in self._entries.values():
                modules = {
                    id(m) for p in entry.pipelines.values() for m in p.components.values() if m is not None
                }
                if any(
                    id(m) in modules
                    for m in getattr(pipe, "components", {}).values()
                    if hasattr(m, "parameters")
                ):
                    return entry
        return None

    def evict(self, location: str | None = None) -> int:
        """Drop the entries of ``location`` (every entry when ``None``) and free their memory;
        returns how many were dropped."""
        with self.lock:
            keys = [k for k in self._entries if location is None or k[1] == location]
            for key in keys:
                self._drop(key)
        self._free()
        return len(keys)

    @property
    def used_bytes(self) -> int:
        with self.lock:
            return sum(b.nbytes for b in self._entries.values())

    def loaded(self) -> list[dict[str, Any]]:
        """What is in memory, most recently used last."""
        with self.lock:
            return [
                {
                    "source": b.source.location,
                    "kind": b.source.kind,
                    "pipelines": sorted(k[0] for k in b.pipelines),
                    "role": b.role,
                    "bytes": b.nbytes,
                }
                for b in self._entries.values()
            ]

    def _drop(self, key: tuple) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            log.info("evicting %s (%.1f MB)", entry.source.location, entry.nbytes / 2**20)
            self.stats["evictions"] += 1
            entry.pipelines.clear()
            entry.extras.clear()
            entry.pipe = None

    def _free(self) -> None:
        gc.collect()
        if self.device == "cuda":
            import torch

            torch.cuda.empty_cache()
