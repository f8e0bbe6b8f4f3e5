"""A workspace's extensions while it serves: their load statuses, reloading (on request or when
their files change) and where URL-installed ones came from.

Reloads come from requests and from the watcher thread at once; one lock keeps the registry
and the status list consistent between them."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from opendream.core.registry import OpRegistry
from opendream.engine import installer, overrides
from opendream.engine.loader import (
    BUILTIN_MODULES,
    ExtensionStatus,
    ExtensionWatcher,
    ReloadResult,
    reload_extensions,
)
from opendream.settings import Settings

log = logging.getLogger(__name__)


class Extensions:
    def __init__(self, settings: Settings, registry: OpRegistry, statuses: list[ExtensionStatus]) -> None:
        self.settings = settings
        self.registry = registry
        self.folders: list[Path] = [settings.extensions_dir, *settings.extension_dirs]
        self._statuses = list(statuses)
        self._lock = threading.Lock()
        self._watcher = ExtensionWatcher(self.folders, registry)

    @property
    def statuses(self) -> list[ExtensionStatus]:
        with self._lock:
            return list(self._statuses)

    def reload(self) -> list[ExtensionStatus]:
        """Re-execute the bundled extensions and every extension file; the new statuses."""
        with self._lock:
            builtin = [s for s in self._statuses if s.name in BUILTIN_MODULES]  # never re-executed
            self._statuses = builtin + reload_extensions(self.folders, self.registry)
            self._watcher = ExtensionWatcher(self.folders, self.registry)  # all files are current now
            return list(self._statuses)

    def poll(self) -> ReloadResult:
        """Reload the extension files that changed, appeared or disappeared since the last poll."""
        with self._lock:
            result = self._watcher.poll()
            if result:
                changed = {s.source for s in result.loaded} | set(result.removed)
                kept = [s for s in self._statuses if s.source not in changed]
                self._statuses = kept + result.loaded
            return result

    def use_builtin(self, op: str, on: bool) -> None:
        """Run the built-in ``op`` instead of a user's override of it (``on``), or the override again."""
        with self._lock:
            overrides.use_builtin(self.settings, self.registry, op, on)

    def overrides(self, status: ExtensionStatus) -> list[dict]:
        """The built-in or bundled ops the extension ``status`` overrides, and whether each runs."""
        return overrides.listing(self.registry, status.source)

    def status(self, source: Path) -> ExtensionStatus | None:
        """The status of the extension file ``source``, if it was loaded."""
        wanted = str(source.resolve())
        return next((s for s in self.statuses if s.source == wanted), None)

    def provenance(self) -> dict[str, dict[str, str]]:
        """Extension name -> ``{"url", "sha256"}`` for each extension installed from a URL whose
        file is still in the extensions folder (from ``installed.json``)."""
        try:
            records = installer.installed(self.settings)
        except installer.InstallRefused as exc:  # an unreadable record must not block exports
            log.warning("%s", exc.message)
            return {}
        return {
            Path(name).stem: {"url": record["url"], "sha256": record["sha256"]}
            for name, record in records.items()
            if isinstance(record, dict)
            and (self.settings.extensions_dir / name).is_file()
            and isinstance(record.get("url"), str)
            and isinstance(record.get("sha256"), str)
        }
