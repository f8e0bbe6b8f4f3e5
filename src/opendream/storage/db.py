"""Projects and the result cache in SQLite (SQLAlchemy 2 Core).

Safe to share between a worker thread and request threads: a file database gives each
thread its own pooled connection and lets SQLite arbitrate; the in-memory database has a
single shared connection, so its use is serialised with a lock."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from opendream.core.errors import ProjectNotFound, RevisionConflict
from opendream.storage.blobs import validate_digest
from opendream.storage.migrations import MIGRATIONS, Migration, migrate
from opendream.storage.sqlite import create_sqlite_engine, write_transaction


def _now() -> str:
    # ISO-8601 UTC with microseconds: readable, and sorts as text in time order.
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Database:
    def __init__(self, engine: Engine, path: Path | None) -> None:
        self.path = path
        self._engine = engine
        self._lock: AbstractContextManager[Any] = threading.RLock() if path is None else nullcontext()

    @classmethod
    def open(cls, path: Path | None, *, migrations: Sequence[Migration] = MIGRATIONS) -> Database:
        """Open (creating and migrating as needed) the database at ``path``; None = in memory."""
        engine = create_sqlite_engine(path)
        try:
            migrate(engine, path, migrations)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, path)

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._lock, self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._lock, write_transaction(self._engine) as conn:
            yield conn

    # -- projects ---------------------------------------------------------------------------

    def create_project(self, doc: dict[str, Any]) -> None:
        """Store a new project; ``doc`` needs at least ``id``, ``name`` and ``revision``."""
        now = _now()
        with self._write() as conn:
            exists = conn.exec_driver_sql("SELECT 1 FROM projects WHERE id = ?", (doc["id"],)).first()
            if exists is not None:
                raise ValueError(f"project {doc['id']!r} already exists")
            conn.exec_driver_sql(
                "INSERT INTO projects (id, name, revision, doc, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (doc["id"], doc["name"], doc["revision"], json.dumps(doc), now, now),
            )

    def load_project(self, project_id: str) -> dict[str, Any]:
        with self._read() as conn:
            row = conn.exec_driver_sql("SELECT doc FROM projects WHERE id = ?", (project_id,)).first()
        if row is None:
            raise ProjectNotFound(project_id)
        return json.loads(row.doc)

    def save_project(self, doc: dict[str, Any], expected_revision: int) -> None:
        """Replace the project only if its stored revision is still ``expected_revision``.

        ``doc["revision"]`` must be newer: a save that kept the revision would let a second
        writer holding the same old revision overwrite it unnoticed."""
        if doc["revision"] <= expected_revision:
            raise ValueError(
                f"the saved revision ({doc['revision']}) must be greater than the expected "
                f"one ({expected_revision})"
            )
        with self._write() as conn:
            actual = conn.exec_driver_sql(
                "SELECT revision FROM projects WHERE id = ?", (doc["id"],)
            ).scalar_one_or_none()
            if actual is None:
                raise ProjectNotFound(doc["id"])
            if actual != expected_revision:
                raise RevisionConflict(expected_revision, actual)
            conn.exec_driver_sql(
                "UPDATE projects SET name = ?, revision = ?, doc = ?, updated_at = ? WHERE id = ?",
                (doc["name"], doc["revision"], json.dumps(doc), _now(), doc["id"]),
            )

    def list_projects(self) -> list[dict[str, Any]]:
        """Summaries of every project, most recently changed first: with the canvas size, the
        layer count and the blob of the topmost visible image layer that has pixels (its
        thumbnail), read from the stored document so that telling projects apart costs no load."""
        with self._read() as conn:
            rows = conn.exec_driver_sql(
                "SELECT id, name, revision, created_at, updated_at, "
                "json_extract(doc, '$.width') AS width, json_extract(doc, '$.height') AS height, "
                "json_array_length(doc, '$.layers') AS layer_count, "
                "(SELECT json_extract(l.value, '$.blob') FROM json_each(doc, '$.layers') AS l "
                " WHERE json_extract(l.value, '$.kind') = 'image' AND json_extract(l.value, '$.visible') "
                " AND json_extract(l.value, '$.blob') IS NOT NULL ORDER BY l.key DESC LIMIT 1) AS thumbnail "
                "FROM projects ORDER BY updated_at DESC, rowid DESC"
            ).all()
        return [dict(row._mapping) for row in rows]

    def delete_project(self, project_id: str) -> None:
        """Delete the project with what was kept about it: the consent rows of the layers its
        workflow file brought and the results that file recorded (its jobs stay as history)."""
        with self._write() as conn:
            deleted = conn.exec_driver_sql("DELETE FROM projects WHERE id = ?", (project_id,)).rowcount
            if deleted == 0:
                raise ProjectNotFound(project_id)
            for table in ("file_layers", "expected_results"):
                conn.exec_driver_sql(f"DELETE FROM {table} WHERE project_id = ?", (project_id,))

    # -- result cache -----------------------------------------------------------------------

    def cache_get(self, key: str) -> list[str] | None:
        """The output blob digests recorded under ``key`` (counting the hit), or None."""
        with self._write() as conn:
            blobs = conn.exec_driver_sql(
                "UPDATE cache SET hits = hits + 1 WHERE key = ? RETURNING blobs", (key,)
            ).scalar_one_or_none()
        return None if blobs is None else json.loads(blobs)

    def cache_put(self, key: str, op: str, blobs: list[str]) -> None:
        """Record (or replace) the outputs of a recipe; the digests are validated first."""
        for digest in blobs:
            validate_digest(digest)
        with self._write() as conn:
            conn.exec_driver_sql(
                "INSERT OR REPLACE INTO cache (key, op, blobs, created_at, hits) VALUES (?, ?, ?, ?, 0)",
                (key, op, json.dumps(blobs), _now()),
            )

    # -- maintenance ------------------------------------------------------------------------

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check``: ``'ok'``, or its findings one per line."""
        with self._read() as conn:
            rows = conn.exec_driver_sql("PRAGMA integrity_check").scalars().all()
        return "\n".join(rows)
