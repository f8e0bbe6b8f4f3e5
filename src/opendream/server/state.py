"""What every route needs, hung on ``app.state.opendream``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request, WebSocket

from opendream.core.project import Project
from opendream.engine.workspace import Workspace
from opendream.server.hub import Hub
from opendream.server.jobs import JobQueue
from opendream.server.service import ProjectService
from opendream.settings import Settings
from opendream.storage.jobs import JobStore


@dataclass
class ServerState:
    settings: Settings
    workspace: Workspace
    hub: Hub
    service: ProjectService
    store: JobStore
    queue: JobQueue


def get_state(request: Request) -> ServerState:
    return request.app.state.opendream


def get_ws_state(websocket: WebSocket) -> ServerState:
    return websocket.app.state.opendream


def project_out(project: Project) -> dict:
    data = project.to_dict(history=False)
    data["can_undo"] = bool(project.undo_stack)
    data["can_redo"] = bool(project.redo_stack)
    data["undo_label"] = project.undo_label()
    data["redo_label"] = project.redo_label()
    return data


def doc_out(doc: dict) -> dict:
    """``project_out`` straight from a stored project document (``Project.to_dict``)."""
    keys = ("id", "name", "width", "height", "revision", "layers")
    undo, redo = doc.get("undo") or [], doc.get("redo") or []
    return {
        **{k: doc[k] for k in keys},
        "can_undo": bool(undo),
        "can_redo": bool(redo),
        "undo_label": undo[-1].get("label", "") if undo else None,
        "redo_label": redo[-1].get("label", "") if redo else None,
    }
