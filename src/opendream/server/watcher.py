"""A background thread that reloads extension files when they change while the server runs."""

from __future__ import annotations

import logging
import threading

from opendream.engine.extensions import Extensions
from opendream.server.hub import Hub

log = logging.getLogger(__name__)
POLL_SECONDS = 2.0


class ExtensionPoller:
    def __init__(self, extensions: Extensions, hub: Hub, interval: float = POLL_SECONDS) -> None:
        self.extensions = extensions
        self.hub = hub
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="opendream-extension-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.interval + 5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                result = self.extensions.poll()
            except Exception:  # a bug here must not end the watching
                log.exception("polling the extension folders failed")
                continue
            if result:
                for status in result.loaded:
                    log.info(
                        "extension %s reloaded%s", status.name, f": {status.error}" if status.error else ""
                    )
                for source in result.removed:
                    log.info("extension file %s removed; its ops are gone", source)
                self.hub.publish({"type": "extensions.changed"})
