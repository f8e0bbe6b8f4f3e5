"""Which layers came from a workflow file, and what their user agreed to (table ``file_layers``).

A layer group counts as the file's while its recipe is the one imported (its digest matches):
once the user edits it, it is theirs. ``reason`` says what the group would do that needs
consent (call a paid service, download a model); ``granted`` records the user's yes."""

from __future__ import annotations

from typing import Any

from opendream.storage.db import Database


class ConsentStore:
    """Rows of ``file_layers`` in the project database (shares its connections and write lock)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, project_id: str, rows: dict[str, tuple[str, str | None]]) -> None:
        """Mark layer groups as the file's: ``{group: (recipe digest, reason or None)}``."""
        with self.db._write() as conn:
            for layer_id, (digest, reason) in rows.items():
                conn.exec_driver_sql(
                    "INSERT OR REPLACE INTO file_layers (project_id, layer_id, recipe, reason, granted) "
                    "VALUES (?, ?, ?, ?, 0)",
                    (project_id, layer_id, digest, reason),
                )

    def lookup(self, project_id: str, layer_id: str, digest: str) -> tuple[bool, bool]:
        """(from the file, consent granted) for the group whose current recipe has ``digest``."""
        with self.db._read() as conn:
            row = conn.exec_driver_sql(
                "SELECT recipe, granted FROM file_layers WHERE project_id = ? AND layer_id = ?",
                (project_id, layer_id),
            ).first()
        if row is None or row.recipe != digest:
            return False, False
        return True, bool(row.granted)

    def ask(self, project_id: str, layer_id: str, reason: str) -> None:
        """A run found that the group needs consent (``reason``); it waits for the user."""
        with self.db._write() as conn:
            conn.exec_driver_sql(
                "UPDATE file_layers SET reason = ? WHERE project_id = ? AND layer_id = ? AND granted = 0",
                (reason, project_id, layer_id),
            )

    def waiting(self, project_id: str) -> list[dict[str, Any]]:
        """Groups waiting for consent: ``layer``, ``recipe`` digest and ``reason``."""
        with self.db._read() as conn:
            rows = conn.exec_driver_sql(
                "SELECT layer_id, recipe, reason FROM file_layers "
                "WHERE project_id = ? AND reason IS NOT NULL AND granted = 0 ORDER BY rowid",
                (project_id,),
            ).all()
        return [{"layer": r.layer_id, "recipe": r.recipe, "reason": r.reason} for r in rows]

    def grant(self, project_id: str, layer_ids: list[str]) -> None:
        with self.db._write() as conn:
            for layer_id in layer_ids:
                conn.exec_driver_sql(
                    "UPDATE file_layers SET granted = 1 WHERE project_id = ? AND layer_id = ?",
                    (project_id, layer_id),
                )
