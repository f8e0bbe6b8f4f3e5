"""Persistence: SQLite (projects, result cache) and the content-addressed blob store."""

from opendream.storage.blobs import BlobStore
from opendream.storage.datadir import DataDir, open_data_dir
from opendream.storage.db import Database

__all__ = ["BlobStore", "DataDir", "Database", "open_data_dir"]
