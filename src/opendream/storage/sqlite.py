"""SQLite engine set-up shared by the database and its migrations.

Every connection gets WAL (synchronous NORMAL), foreign keys and a busy timeout. Python's sqlite3 module
manages transactions on its own (and badly); it is switched off so SQLAlchemy's
``begin`` emits the BEGIN, which lets writers ask for ``BEGIN IMMEDIATE``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

BUSY_TIMEOUT_MS = 10_000


def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")  # stays "memory" for an in-memory database
    # Commits are not fsynced, the WAL is at checkpoints: the database stays consistent and a
    # crashed or killed server loses nothing (the OS holds its writes); a power cut may roll back
    # the last commits. An fsync per commit cost each job ~35 ms of the server's serial time.
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _on_begin(conn: Connection) -> None:
    conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get('sqlite_begin', 'DEFERRED')}")


def create_sqlite_engine(path: Path | None) -> Engine:
    """An engine on the file at ``path``, or on one in-memory database when ``path`` is None."""
    if path is None:
        # One connection for everyone: each new connection to ":memory:" would be a new, empty db.
        engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction holding the write lock from its start.

    A deferred transaction that reads then writes (the revision compare-and-swap) can fail
    with SQLITE_BUSY halfway, busy timeout or not; IMMEDIATE waits for the lock up front."""
    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn
