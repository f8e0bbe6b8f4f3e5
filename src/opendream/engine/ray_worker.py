"""The body of one Ray actor of the Ray executor: its own runtime, ops and model manager, built
from the server's settings. It runs the compute part of a recipe (``executor.run_op``) on input
blobs it receives through Ray's object store, and streams back what the op reports, then the
output PNG bytes (or keeps them for the server to read, for a server that joined through a Ray
Client); it never touches the server's database or blob store.

Imported only in a process that has Ray (``ray_executor.py`` imports it once Ray is there)."""

from __future__ import annotations

import io
import os
import pickle
import queue
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import ray
from PIL import Image

from opendream.core.errors import BlobMissing, OpendreamError, OpFailed
from opendream.core.images import decode_image
from opendream.core.recipe import Recipe, asset_digest
from opendream.core.registry import REGISTRY
from opendream.engine.consent import Trust
from opendream.engine.executor import InputBlobs, decode_layers, make_context, run_op
from opendream.engine.hooks import Hooks
from opendream.engine.runtime import make_runtime
from opendream.settings import Settings

#: Most events per second a run streams back: progress at most every 50 ms, previews every
#: 250 ms (4/s), download counts every 250 ms; the last step and the last byte always go.
PROGRESS_GAP_S = 0.05
PREVIEW_GAP_S = 0.25
DOWNLOAD_GAP_S = 0.25
PREVIEW_SIDE = 256
#: A cancel that came after its run ended is forgotten after this long.
CANCEL_MEMORY_S = 60.0

Event = tuple[Any, ...]


def preview_jpeg(image: Image.Image) -> bytes:
    """A preview small enough to stream (the server shrinks it again for the browser)."""
    small = image.convert("RGB")
    small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def portable(exc: BaseException) -> BaseException:
    """``exc`` if it comes out of pickling as it went in (Ray sends it back to the server), else
    an ``OpFailed`` that says what the server would have said of it (``run.failure_message``)."""
    try:
        same = str(pickle.loads(pickle.dumps(exc))) == str(exc)
    except Exception:  # an exception whose constructor takes other arguments than its message
        same = False
    if same:
        return exc
    return OpFailed(exc.message if isinstance(exc, OpendreamError) else f"{type(exc).__name__}: {exc}")


class _Relay:
    """The hooks of one run: the op's reports become events on ``events``, at a bounded rate."""

    def __init__(self, events: queue.Queue[Event]) -> None:
        self.events = events
        self._progress_at = self._preview_at = self._download_at = float("-inf")

    def progress(self, step: int, total: int, preview: Image.Image | None) -> None:
        now = time.monotonic()
        if step < total and now - self._progress_at < PROGRESS_GAP_S:
            return
        self._progress_at = now
        jpeg = None
        if preview is not None and now - self._preview_at >= PREVIEW_GAP_S:
            self._preview_at = now
            jpeg = preview_jpeg(preview)
        self.events.put(("progress", step, total, jpeg))

    def status(self, text: str) -> None:
        self.events.put(("status", text))

    def download(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done != total and now - self._download_at < DOWNLOAD_GAP_S:
            return
        self._download_at = now
        self.events.put(("download", done, total))


class Worker:
    """One actor. Threaded (``max_concurrency`` > 1) so that ``cancel`` reaches a running job."""

    def __init__(self, settings: Settings, load_models: bool) -> None:
        # Imported here: the ops' modules are the worker's own, loaded from the same folders.
        from opendream.engine.workspace import load_ops

        load_ops(settings, REGISTRY)
        self.runtime = make_runtime(settings, load_models=load_models)
        self._lock = threading.Lock()
        self._cancels: dict[str, tuple[threading.Event, float]] = {}
        #: The runs begun with ``start``, whose events are not read yet.
        self._runs: dict[str, queue.Queue[Event]] = {}

    def where(self) -> dict[str, Any]:
        """The node this actor runs on (its address and host name) and its process."""
        return {"node": ray.util.get_node_ip_address(), "host": socket.gethostname(), "pid": os.getpid()}

    def cancel(self, token: str) -> None:
        """Stop the run ``token`` at its next step (or before it starts, if it has not yet)."""
        now = time.monotonic()
        with self._lock:
            self._cancels = {k: v for k, v in self._cancels.items() if now - v[1] < CANCEL_MEMORY_S}
            self._cancels.setdefault(token, (threading.Event(), now))[0].set()

    def run(
        self, token: str, recipe: Recipe, inputs: InputBlobs, blobs: dict[str, Any], trust: Trust
    ) -> Iterator[Event]:
        """Run ``recipe``, streaming ``("progress", step, total, jpeg | None)``, ``("status",
        text)`` and ``("download", done, total)`` events, then ``("done", Computed)`` or
        ``("error", exception)``. ``blobs``: the object references of the input and asset
        blobs, by digest."""
        events = self._begin(token, recipe, inputs, blobs, trust)
        try:
            while True:
                event = events.get()
                yield event
                if event[0] in ("done", "error"):
                    return
        finally:
            self._end(token)

    def start(
        self, token: str, recipe: Recipe, inputs: InputBlobs, blobs: dict[str, Any], trust: Trust
    ) -> None:
        """``run`` for a server that cannot take a stream (a Ray Client's): the run goes on in
        the background and its events are read with ``events``."""
        events = self._begin(token, recipe, inputs, blobs, trust)
        with self._lock:
            self._runs[token] = events

    def events(self, token: str, wait_s: float) -> list[Event]:
        """The events of the run ``token`` since the last call (those ``run`` would stream),
        waiting up to ``wait_s`` for the first; ``[("lost",)]`` for a run this process does not
        have (Ray restarted the actor since it began)."""
        with self._lock:
            events = self._runs.get(token)
        if events is None:
            return [("lost",)]
        batch: list[Event] = []
        try:
            batch.append(events.get(timeout=wait_s))
            while batch[-1][0] not in ("done", "error"):
                batch.append(events.get_nowait())
        except queue.Empty:
            pass
        if batch and batch[-1][0] in ("done", "error"):
            self._end(token)
        return batch

    def _begin(
        self, token: str, recipe: Recipe, inputs: InputBlobs, blobs: dict[str, Any], trust: Trust
    ) -> queue.Queue[Event]:
        """Start ``recipe`` on a thread of its own; its events go to the queue returned."""
        with self._lock:
            cancel = self._cancels.setdefault(token, (threading.Event(), time.monotonic()))[0]
        events: queue.Queue[Event] = queue.Queue()
        relay = _Relay(events)
        hooks = Hooks(progress=relay.progress, status=relay.status, download=relay.download, cancel=cancel)

        def work() -> None:
            try:
                data = dict(zip(blobs, ray.get(list(blobs.values())), strict=True))

                def read(digest: str) -> Image.Image:
                    if digest not in data:
                        raise BlobMissing(digest)
                    return decode_image(data[digest])

                spec = REGISTRY.get(recipe.op)
                ctx = make_context(spec, self.runtime, hooks, trust, lambda ref: read(asset_digest(ref)))
                layers = decode_layers(spec, inputs, read)
                events.put(("done", run_op(spec, recipe, layers, ctx, self.runtime.environment)))
            except BaseException as exc:  # everything goes back to the server, which decides
                events.put(("error", portable(exc)))

        threading.Thread(target=work, name=f"opendream-run-{token}", daemon=True).start()
        return events

    def _end(self, token: str) -> None:
        with self._lock:
            self._cancels.pop(token, None)
            self._runs.pop(token, None)
