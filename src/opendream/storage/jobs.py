"""The persistent job queue (table ``jobs``) and the result hashes recorded by imported workflows.

A job is one run of one layer group. Its state only moves forward:
``queued -> running -> completed | failed | cancelled`` (or ``queued -> cancelled``); every
transition is a compare-and-swap on the current state, so a job ends in exactly one
terminal state even when a worker and a cancel request race."""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

from opendream.storage.db import Database, _now

JobState = Literal["queued", "running", "completed", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
INTERRUPTED = "interrupted: the server stopped while this job was running"
_COLUMNS = (
    "id, project_id, layer_id, op, force, state, error, outcome, created_at, started_at, finished_at, "
    "worker, node"
)


def _row(row: Any) -> dict[str, Any]:
    job = dict(row._mapping)
    job["force"] = bool(job["force"])
    return job


class JobStore:
    """Job rows in the project database (shares its connections and write lock)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def enqueue(self, project_id: str, layer_id: str, op: str, *, force: bool = False) -> dict[str, Any]:
        job_id = uuid.uuid4().hex[:16]
        with self.db._write() as conn:
            conn.exec_driver_sql(
                "INSERT INTO jobs (id, project_id, layer_id, op, force, state, created_at) "
                "VALUES (?, ?, ?, ?, ?, 'queued', ?)",
                (job_id, project_id, layer_id, op, int(force), _now()),
            )
        return self.get(job_id)

    def get(self, job_id: str) -> dict[str, Any]:
        with self.db._read() as conn:
            row = conn.exec_driver_sql(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).first()
        if row is None:
            raise KeyError(job_id)
        return _row(row)

    def recent(
        self, *, project_id: str | None = None, state: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Newest first."""
        where, args = [], []
        if project_id is not None:
            where.append("project_id = ?")
            args.append(project_id)
        if state is not None:
            where.append("state = ?")
            args.append(state)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self.db._read() as conn:
            rows = conn.exec_driver_sql(
                f"SELECT {_COLUMNS} FROM jobs {clause} ORDER BY seq DESC LIMIT ?", (*args, limit)
            ).all()
        return [_row(r) for r in rows]

    def claim_next(self) -> dict[str, Any] | None:
        """Mark the next queued job ``running`` and return it. A project runs one job at a
        time, in queue order, so a layer never starts before the inputs queued ahead of it.
        Projects take turns: the next job is the oldest of the project whose last job started
        longest ago (never first), so one project's long batch cannot hold the others back."""
        with self.db._write() as conn:
            row = conn.exec_driver_sql(
                "SELECT id FROM jobs AS j WHERE state = 'queued' AND NOT EXISTS ("
                "  SELECT 1 FROM jobs AS r WHERE r.project_id = j.project_id AND r.state = 'running'"
                ") ORDER BY ("
                "  SELECT MAX(s.started_at) FROM jobs AS s WHERE s.project_id = j.project_id"
                ") IS NOT NULL, ("
                "  SELECT MAX(s.started_at) FROM jobs AS s WHERE s.project_id = j.project_id"
                "), seq LIMIT 1"
            ).first()
            if row is None:
                return None
            conn.exec_driver_sql(
                "UPDATE jobs SET state = 'running', started_at = ? WHERE id = ?", (_now(), row.id)
            )
        return self.get(row.id)

    def placed(self, job_id: str, worker: str, node: str) -> None:
        """Record where a remote executor runs the job (the last place, when it moved)."""
        with self.db._write() as conn:
            conn.exec_driver_sql("UPDATE jobs SET worker = ?, node = ? WHERE id = ?", (worker, node, job_id))

    def finish(
        self,
        job_id: str,
        state: JobState,
        *,
        error: str | None = None,
        outcome: str | None = None,
        from_states: tuple[str, ...] = ("running",),
    ) -> bool:
        """Move a job to a terminal ``state`` if it is in one of ``from_states``; False if not."""
        if state not in TERMINAL:
            raise ValueError(f"{state!r} is not a terminal job state")
        marks = ",".join("?" for _ in from_states)
        with self.db._write() as conn:
            changed = conn.exec_driver_sql(
                f"UPDATE jobs SET state = ?, error = ?, outcome = ?, finished_at = ? "
                f"WHERE id = ? AND state IN ({marks})",
                (state, error, outcome, _now(), job_id, *from_states),
            ).rowcount
        return changed == 1

    def cancel_queued(self, job_id: str) -> bool:
        return self.finish(job_id, "cancelled", error="cancelled", from_states=("queued",))

    def cancel_project_queued(self, project_id: str) -> list[dict[str, Any]]:
        """Cancel every queued job of a project in one write; the jobs cancelled."""
        with self.db._write() as conn:
            rows = conn.exec_driver_sql(
                f"UPDATE jobs SET state = 'cancelled', error = 'cancelled', finished_at = ? "
                f"WHERE project_id = ? AND state = 'queued' RETURNING {_COLUMNS}",
                (_now(), project_id),
            ).all()
        return [_row(r) for r in rows]

    def interrupt_running(self) -> list[dict[str, Any]]:
        """Start-up recovery: jobs a crash left ``running`` become ``failed`` (interrupted)."""
        with self.db._write() as conn:
            rows = conn.exec_driver_sql(
                f"UPDATE jobs SET state = 'failed', error = ?, finished_at = ? WHERE state = 'running' "
                f"RETURNING {_COLUMNS}",
                (INTERRUPTED, _now()),
            ).all()
        return [_row(r) for r in rows]

    def active(self, project_id: str) -> list[dict[str, Any]]:
        """Queued and running jobs of a project, oldest first."""
        with self.db._read() as conn:
            rows = conn.exec_driver_sql(
                f"SELECT {_COLUMNS} FROM jobs WHERE project_id = ? AND state IN ('queued', 'running') "
                "ORDER BY seq",
                (project_id,),
            ).all()
        return [_row(r) for r in rows]

    # -- expected results of imported workflows -------------------------------------------

    def set_expected(
        self, project_id: str, expected: dict[str, str | None], environment: dict[str, Any] | None = None
    ) -> None:
        """The result hashes an imported file recorded, and the environment it was made in."""
        with self.db._write() as conn:
            conn.exec_driver_sql(
                "INSERT OR REPLACE INTO expected_results (project_id, expected, environment) VALUES (?, ?, ?)",
                (project_id, json.dumps(expected), json.dumps(environment)),
            )

    def get_expected(self, project_id: str) -> tuple[dict[str, str | None], dict[str, Any] | None]:
        """What ``set_expected`` kept for the project: ``({}, None)`` when it was not imported."""
        with self.db._read() as conn:
            row = conn.exec_driver_sql(
                "SELECT expected, environment FROM expected_results WHERE project_id = ?", (project_id,)
            ).first()
        if row is None:
            return {}, None
        return json.loads(row.expected), json.loads(row.environment) if row.environment else None
