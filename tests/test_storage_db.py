from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from opendream.core.errors import ProjectNotFound, RevisionConflict
from opendream.storage.db import Database
from opendream.storage.migrations import MIGRATIONS, Migration
from opendream.storage.sqlite import BUSY_TIMEOUT_MS

CURRENT = MIGRATIONS[-1][0]
NEXT = CURRENT + 1  # a fake migration the tests append

DIGEST = "ab" * 32


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "opendream.db")
    yield database
    database.close()


def _doc(project_id: str = "p1", revision: int = 1, **extra: Any) -> dict[str, Any]:
    return {"id": project_id, "name": f"project {project_id}", "revision": revision, "layers": [], **extra}


def _scalar(db: Database, sql: str) -> Any:
    with db._engine.connect() as conn:
        return conn.exec_driver_sql(sql).scalar()


def _run_threads(count: int, target: Callable[[int], None]) -> list[BaseException]:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


# -- projects -------------------------------------------------------------------------------


def test_create_and_load_project(db: Database) -> None:
    doc = _doc(layers=[{"id": "L1", "params": {"prompt": "a cat", "seed": 7}}])
    db.create_project(doc)
    assert db.load_project("p1") == doc


def test_load_missing_project(db: Database) -> None:
    with pytest.raises(ProjectNotFound) as excinfo:
        db.load_project("nope")
    assert excinfo.value.project_id == "nope"


def test_create_duplicate_project_is_refused(db: Database) -> None:
    db.create_project(_doc())
    with pytest.raises(ValueError, match="already exists"):
        db.create_project(_doc(name="other"))
    assert db.load_project("p1") == _doc()


def test_save_with_expected_revision(db: Database) -> None:
    db.create_project(_doc())
    db.save_project(_doc(revision=2, name="renamed"), expected_revision=1)
    assert db.load_project("p1")["revision"] == 2
    assert db.list_projects()[0]["name"] == "renamed"


def test_revision_conflict_leaves_stored_doc_unchanged(db: Database) -> None:
    db.create_project(_doc())
    db.save_project(_doc(revision=2, note="first writer"), expected_revision=1)
    with pytest.raises(RevisionConflict) as excinfo:
        db.save_project(_doc(revision=2, note="second writer"), expected_revision=1)
    assert (excinfo.value.expected, excinfo.value.actual) == (1, 2)
    assert db.load_project("p1") == _doc(revision=2, note="first writer")


def test_save_must_bump_the_revision(db: Database) -> None:
    db.create_project(_doc())
    with pytest.raises(ValueError, match="greater"):
        db.save_project(_doc(revision=1, note="same revision"), expected_revision=1)
    assert db.load_project("p1") == _doc()


def test_save_missing_project(db: Database) -> None:
    with pytest.raises(ProjectNotFound):
        db.save_project(_doc(revision=2), expected_revision=1)


def test_concurrent_saves_exactly_one_wins(db: Database) -> None:
    db.create_project(_doc())
    for revision in range(1, 6):  # several rounds: a lock race does not show every time
        wins: list[int] = []

        def save(i: int, revision: int = revision, wins: list[int] = wins) -> None:
            db.save_project(_doc(revision=revision + 1, writer=i), expected_revision=revision)
            wins.append(i)

        errors = _run_threads(12, save)
        assert all(isinstance(e, RevisionConflict) for e in errors), errors
        assert len(wins) == 1
        assert db.load_project("p1") == _doc(revision=revision + 1, writer=wins[0])


def test_list_projects_newest_first(db: Database) -> None:
    for project_id in ("a", "b", "c"):
        db.create_project(_doc(project_id))
    db.save_project(_doc("a", revision=2), expected_revision=1)
    listed = db.list_projects()
    assert [p["id"] for p in listed] == ["a", "c", "b"]
    assert set(listed[0]) == {
        "id",
        "name",
        "revision",
        "created_at",
        "updated_at",
        "width",
        "height",
        "layer_count",
        "thumbnail",
    }
    assert listed[0]["revision"] == 2
    assert listed[0]["updated_at"] > listed[0]["created_at"]


def test_delete_project(db: Database) -> None:
    db.create_project(_doc("a"))
    db.create_project(_doc("b"))
    db.delete_project("a")
    assert [p["id"] for p in db.list_projects()] == ["b"]
    with pytest.raises(ProjectNotFound):
        db.load_project("a")
    with pytest.raises(ProjectNotFound):
        db.delete_project("a")


# -- result cache ---------------------------------------------------------------------------


def test_cache_put_get_and_hits(db: Database) -> None:
    assert db.cache_get("k") is None
    db.cache_put("k", "txt2img", [DIGEST, "cd" * 32])
    assert db.cache_get("k") == [DIGEST, "cd" * 32]
    assert db.cache_get("k") == [DIGEST, "cd" * 32]
    assert _scalar(db, "SELECT hits FROM cache WHERE key = 'k'") == 2
    assert _scalar(db, "SELECT op FROM cache WHERE key = 'k'") == "txt2img"


def test_cache_put_replaces(db: Database) -> None:
    db.cache_put("k", "txt2img", [DIGEST])
    db.cache_get("k")
    db.cache_put("k", "img2img", ["cd" * 32])
    assert db.cache_get("k") == ["cd" * 32]
    assert _scalar(db, "SELECT count(*) FROM cache") == 1
    assert _scalar(db, "SELECT hits FROM cache WHERE key = 'k'") == 1


def test_cache_put_refuses_bad_digests(db: Database) -> None:
    with pytest.raises(ValueError, match="not a sha256"):
        db.cache_put("k", "op", [DIGEST, "../../etc/passwd"])
    assert db.cache_get("k") is None


# -- connection settings --------------------------------------------------------------------


def test_pragmas_on_every_connection(db: Database) -> None:
    def pragmas(conn: Connection) -> tuple[Any, ...]:
        return tuple(
            conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        )

    # Two connections open at once: the second is a fresh one, not the first reused.
    with db._engine.connect() as first, db._engine.connect() as second:
        assert pragmas(first) == pragmas(second) == ("wal", 1, 1, BUSY_TIMEOUT_MS)  # synchronous 1: NORMAL


def test_integrity_check(db: Database) -> None:
    db.create_project(_doc())
    assert db.integrity_check() == "ok"


def test_writes_reach_the_file(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "opendream.db")
    db.create_project(_doc())
    db.close()
    reopened = Database.open(tmp_path / "opendream.db")
    assert reopened.load_project("p1") == _doc()
    reopened.close()


# -- in-memory ------------------------------------------------------------------------------


def test_in_memory_database_is_shared_across_threads() -> None:
    db = Database.open(None)
    errors = _run_threads(8, lambda i: db.create_project(_doc(f"p{i}")))
    assert errors == []
    seen: list[list[str]] = []
    reader = threading.Thread(target=lambda: seen.append(sorted(p["id"] for p in db.list_projects())))
    reader.start()
    reader.join()
    assert seen == [[f"p{i}" for i in range(8)]]
    assert db.integrity_check() == "ok"
    db.close()


def test_in_memory_concurrent_saves_exactly_one_wins() -> None:
    db = Database.open(None)
    db.create_project(_doc())
    errors = _run_threads(8, lambda i: db.save_project(_doc(revision=2, writer=i), expected_revision=1))
    assert len(errors) == 7
    assert all(isinstance(e, RevisionConflict) for e in errors), errors
    db.close()


# -- migrations -----------------------------------------------------------------------------


def _counting(migrations: tuple[Migration, ...], calls: list[int]) -> list[Migration]:
    def wrap(version: int, apply: Callable[[Connection], None]) -> Migration:
        def counted(conn: Connection) -> None:
            calls.append(version)
            apply(conn)

        return version, counted

    return [wrap(version, apply) for version, apply in migrations]


def _add_notes_table(conn: Connection) -> None:
    conn.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


def _version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT version FROM schema_version").fetchone()[0]
    finally:
        conn.close()


def test_migrations_run_once_and_record_the_version(tmp_path: Path) -> None:
    path = tmp_path / "opendream.db"
    calls: list[int] = []
    Database.open(path, migrations=_counting(MIGRATIONS, calls)).close()
    assert calls == [v for v, _ in MIGRATIONS]
    assert _version(path) == CURRENT
    assert {"projects", "cache", "schema_version"} <= _tables(path)
    Database.open(path, migrations=_counting(MIGRATIONS, calls)).close()
    assert calls == [v for v, _ in MIGRATIONS]
    assert list(tmp_path.glob("*.bak-*")) == []  # nothing to back up: new, then up to date


def test_older_database_is_backed_up_then_migrated(tmp_path: Path) -> None:
    path = tmp_path / "opendream.db"
    db = Database.open(path)
    db.create_project(_doc())
    db.close()

    calls: list[int] = []
    migrated = Database.open(path, migrations=_counting((*MIGRATIONS, (NEXT, _add_notes_table)), calls))
    assert calls == [NEXT]
    assert _version(path) == NEXT
    assert "notes" in _tables(path)
    assert migrated.load_project("p1") == _doc()
    migrated.close()

    backup = tmp_path / f"opendream.db.bak-v{CURRENT}"
    assert _version(backup) == CURRENT
    assert "notes" not in _tables(backup)
    from_backup = Database.open(backup)
    assert from_backup.load_project("p1") == _doc()
    from_backup.close()


def test_failed_migration_rolls_back_and_keeps_the_version(tmp_path: Path) -> None:
    path = tmp_path / "opendream.db"
    Database.open(path).close()

    def half_done(conn: Connection) -> None:
        _add_notes_table(conn)
        raise RuntimeError("migration bug")

    with pytest.raises(RuntimeError, match="migration bug"):
        Database.open(path, migrations=[*MIGRATIONS, (NEXT, half_done)])
    assert _version(path) == CURRENT
    assert "notes" not in _tables(path)


def test_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "opendream.db"
    Database.open(path, migrations=[*MIGRATIONS, (NEXT, _add_notes_table)]).close()
    with pytest.raises(RuntimeError, match="newer"):
        Database.open(path)


@pytest.mark.parametrize("versions", [[2, 1], [1, 1], [0, 1]])
def test_migration_versions_must_increase(tmp_path: Path, versions: list[int]) -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        Database.open(tmp_path / "opendream.db", migrations=[(v, _add_notes_table) for v in versions])


def test_rows_orphaned_by_deletes_before_the_fix_are_cleared_by_migration(tmp_path: Path) -> None:
    """Deleting a project left its `file_layers` and `expected_results` rows behind."""
    path = tmp_path / "opendream.db"
    old = Database.open(path, migrations=MIGRATIONS[:3])
    for project_id in ("kept", "gone"):
        old.create_project(_doc(project_id))
        with old._write() as conn:
            conn.exec_driver_sql(
                "INSERT INTO file_layers (project_id, layer_id, recipe) VALUES (?, 'L1', 'r')", (project_id,)
            )
            conn.exec_driver_sql(
                "INSERT INTO expected_results (project_id, expected) VALUES (?, '{}')", (project_id,)
            )
    with old._write() as conn:  # what delete_project did before it removed the rows too
        conn.exec_driver_sql("DELETE FROM projects WHERE id = 'gone'")
    old.close()

    migrated = Database.open(path)
    for table in ("file_layers", "expected_results"):
        assert _scalar(migrated, f"SELECT group_concat(project_id) FROM {table}") == "kept", table
    migrated.close()


def test_layers_stored_before_placement_get_the_defaults_by_migration(tmp_path: Path) -> None:
    """Layers gained placement, blend and layer mask (issue 16); a project stored before is
    served with each layer where it was drawn: top-left, unscaled, normal, no mask."""
    path = tmp_path / "opendream.db"
    old = Database.open(path, migrations=MIGRATIONS[:4])
    old.create_project(_doc(layers=[{"id": "L1", "name": "a"}]))
    old.close()

    migrated = Database.open(path)
    assert migrated.load_project("p1")["layers"] == [
        {
            "id": "L1",
            "name": "a",
            "placement": {"x": 0, "y": 0, "scale": 1.0, "flip_x": False, "flip_y": False},
            "blend": "normal",
            "mask": None,
        }
    ]
    migrated.close()
