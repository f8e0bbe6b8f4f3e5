"""Versioned schema migrations: an ordered list of ``(version, apply)`` pairs.

Each migration runs in its own transaction together with the version bump, so a crash
leaves the database at a whole version. Before an existing on-disk database is
migrated, a copy is taken with the SQLite backup API (``opendream.db.bak-v{old}``)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path

from sqlalchemy import Connection, Engine

from opendream.storage.sqlite import write_transaction

Migration = tuple[int, Callable[[Connection], None]]


def _v1_projects_and_cache(conn: Connection) -> None:
    conn.exec_driver_sql(
        """CREATE TABLE projects (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            revision INTEGER NOT NULL,
            doc TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    conn.exec_driver_sql(
        """CREATE TABLE cache (
            key TEXT PRIMARY KEY,
            op TEXT NOT NULL,
            blobs TEXT NOT NULL,
            created_at TEXT NOT NULL,
            hits INTEGER NOT NULL DEFAULT 0
        )"""
    )


def _v2_jobs(conn: Connection) -> None:
    # One row per run of one layer group; `seq` gives the FIFO order jobs are claimed in.
    conn.exec_driver_sql(
        """CREATE TABLE jobs (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            project_id TEXT NOT NULL,
            layer_id TEXT NOT NULL,
            op TEXT NOT NULL,
            force INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
            error TEXT,
            outcome TEXT,
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT
        )"""
    )
    conn.exec_driver_sql("CREATE INDEX jobs_state ON jobs (state, seq)")
    conn.exec_driver_sql("CREATE INDEX jobs_project ON jobs (project_id, seq)")
    # The result hashes an imported workflow recorded, so a later replay can compare with them.
    conn.exec_driver_sql(
        """CREATE TABLE expected_results (
            project_id TEXT PRIMARY KEY,
            expected TEXT NOT NULL
        )"""
    )


def _v3_file_layers(conn: Connection) -> None:
    # Layers an imported workflow brought, and whether the user let them call remote services.
    conn.exec_driver_sql(
        """CREATE TABLE file_layers (
            project_id TEXT NOT NULL,
            layer_id TEXT NOT NULL,
            recipe TEXT NOT NULL,
            reason TEXT,
            granted INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (project_id, layer_id)
        )"""
    )


def _v4_drop_orphans(conn: Connection) -> None:
    # Deleting a project once left its file_layers and expected_results rows behind.
    for table in ("file_layers", "expected_results"):
        conn.exec_driver_sql(f"DELETE FROM {table} WHERE project_id NOT IN (SELECT id FROM projects)")


def _v5_layer_placement(conn: Connection) -> None:
    # Layers gained a placement, a blend mode and a layer mask; stored documents get the defaults
    # (where every layer was drawn before) so that they are served as they are.
    defaults = {
        "placement": {"x": 0, "y": 0, "scale": 1.0, "flip_x": False, "flip_y": False},
        "blend": "normal",
        "mask": None,
    }
    for project_id, doc in conn.exec_driver_sql("SELECT id, doc FROM projects").all():
        data = json.loads(doc)
        for layer in data["layers"]:
            for key, value in defaults.items():
                layer.setdefault(key, value)
        conn.exec_driver_sql("UPDATE projects SET doc = ? WHERE id = ?", (json.dumps(data), project_id))


def _v6_job_placement(conn: Connection) -> None:
    # A remote executor records which of its workers, on which node, ran the job.
    conn.exec_driver_sql("ALTER TABLE jobs ADD COLUMN worker TEXT")
    conn.exec_driver_sql("ALTER TABLE jobs ADD COLUMN node TEXT")


def _v7_recorded_environment(conn: Connection) -> None:
    # The environment an imported workflow recorded, so a replay that differs can say why.
    conn.exec_driver_sql("ALTER TABLE expected_results ADD COLUMN environment TEXT")


MIGRATIONS: tuple[Migration, ...] = (
    (1, _v1_projects_and_cache),
    (2, _v2_jobs),
    (3, _v3_file_layers),
    (4, _v4_drop_orphans),
    (5, _v5_layer_placement),
    (6, _v6_job_placement),
    (7, _v7_recorded_environment),
)


def schema_version(conn: Connection) -> int:
    """The version recorded in the database; 0 for a database never migrated."""
    has_table = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).first()
    if has_table is None:
        return 0
    return conn.exec_driver_sql("SELECT version FROM schema_version").scalar_one()


def _is_empty(conn: Connection) -> bool:
    return conn.exec_driver_sql("SELECT 1 FROM sqlite_master LIMIT 1").first() is None


def backup(path: Path, version: int) -> Path:
    """Copy the database at ``path`` next to it as ``<name>.bak-v{version}``; return the copy."""
    target = path.with_name(f"{path.name}.bak-v{version}")
    # The backup API copies a consistent snapshot, WAL content included, unlike a file copy.
    with closing(sqlite3.connect(path)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
    return target


def migrate(engine: Engine, path: Path | None, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply every migration newer than the database's version, in order; return the final version."""
    versions = [version for version, _ in migrations]
    if versions != sorted(set(versions)) or (versions and versions[0] < 1):
        raise ValueError(f"migration versions must be positive and strictly increasing: {versions}")
    latest = versions[-1] if versions else 0
    with engine.connect() as conn:
        current = schema_version(conn)
        empty = _is_empty(conn)
    if current > latest:
        raise RuntimeError(
            f"database schema version {current} is newer than this Opendream knows ({latest}); "
            "upgrade Opendream or restore a backup"
        )
    if current == latest:
        return current
    if path is not None and not empty:
        backup(path, current)
    for version, apply in migrations:
        # Re-read inside the write lock: another process may have migrated meanwhile.
        with write_transaction(engine) as conn:
            current = schema_version(conn)
            if version <= current:
                continue
            if current == 0:
                conn.exec_driver_sql(
                    "CREATE TABLE schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), "
                    "version INTEGER NOT NULL)"
                )
                conn.exec_driver_sql("INSERT INTO schema_version (id, version) VALUES (1, 0)")
            apply(conn)
            conn.exec_driver_sql("UPDATE schema_version SET version = ?", (version,))
    return latest
