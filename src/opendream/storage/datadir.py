"""The data directory: ``opendream.db``, ``blobs/`` and ``extensions/`` under one folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from opendream.storage.blobs import BlobStore
from opendream.storage.db import Database


@dataclass(frozen=True)
class DataDir:
    path: Path
    db: Database
    blobs: BlobStore
    extensions_dir: Path

    def close(self) -> None:
        self.db.close()


def open_data_dir(path: Path) -> DataDir:
    """Create what is missing under ``path``, migrate the database, and open it all."""
    path.mkdir(parents=True, exist_ok=True)
    extensions_dir = path / "extensions"
    extensions_dir.mkdir(exist_ok=True)
    blobs = BlobStore(path / "blobs")
    return DataDir(
        path=path, db=Database.open(path / "opendream.db"), blobs=blobs, extensions_dir=extensions_dir
    )
