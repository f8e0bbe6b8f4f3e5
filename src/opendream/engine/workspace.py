"""A workspace: one data directory with its ops, runtime and runner. The CLI and the server
are thin faces over it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from PIL import Image

from opendream.core import provenance, workflow
from opendream.core.composite import CanvasLayer, composite
from opendream.core.images import check_pixel_budget
from opendream.core.project import Project
from opendream.core.recipe import LayerState
from opendream.core.registry import REGISTRY, OpRegistry
from opendream.engine import overrides
from opendream.engine.executor import Executor
from opendream.engine.extensions import Extensions
from opendream.engine.loader import (
    ExtensionStatus,
    load_builtin_ops,
    load_extension_dirs,
    load_installed_extensions,
)
from opendream.engine.runner import LayerRun, Runner
from opendream.engine.runtime import Runtime, make_runtime
from opendream.settings import Settings
from opendream.storage.blobs import BlobStore
from opendream.storage.datadir import DataDir, open_data_dir
from opendream.storage.db import Database

#: Makes the workspace's executor from its registry, blob store, database and runtime.
ExecutorFactory = Callable[[OpRegistry, BlobStore, Database, Runtime], Executor]

ReplayResult = Literal["exact", "differs", "new", "failed", "pending", "waiting for consent"]


def replay_result(
    layer: LayerState, expected: str | None, *, waiting: bool = False, running: bool = False
) -> ReplayResult:
    """How a replayed layer compares with the result its file recorded (``expected``):
    ``waiting`` for the user's consent, still ``running`` (the server's replay may time out
    first), ``failed`` without pixels, ``new`` when the file recorded none, else ``exact`` or
    ``differs``."""
    if waiting and layer.status != "ready":
        return "waiting for consent"
    if running and layer.status in ("pending", "running", "stale"):
        return "pending"
    if layer.status != "ready" or layer.blob is None:
        return "failed"
    if expected is None:
        return "new"
    return "exact" if expected == layer.blob else "differs"


def differs_because(layer: LayerState, recorded: dict[str, Any] | None) -> str | None:
    """Why a layer that ``differs`` may: the backend that ran it is not the one the file's
    ``recorded`` environment names (OpenVINO's results are close to torch's, not the same)."""
    was = (recorded or {}).get("backend", "torch")
    now = (layer.run.environment or {}).get("backend", "torch")
    return f"backend changed: made on {was}, replayed on {now}" if was != now else None


@dataclass
class LayerReport:
    layer: str
    name: str
    op: str
    outcome: str
    seconds: float
    result: ReplayResult
    blob: str | None
    expected: str | None
    error: str | None = None
    note: str | None = None  # when the op here is not what made the layer (an override)
    reason: str | None = None  # why it differs, where known (``differs_because``)


@dataclass
class ReplayReport:
    layers: list[LayerReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(x.result in ("exact", "new") for x in self.layers)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "layers": [vars(x) for x in self.layers]}


def load_ops(settings: Settings, registry: OpRegistry = REGISTRY) -> list[ExtensionStatus]:
    """Built-in ops, the extensions installed as packages, then the user's extension folders
    (the last two override built-in ops of the same name, unless switched off in
    ``<extensions>/overrides.json``)."""
    overrides.apply(settings, registry)
    return (
        load_builtin_ops(registry)
        + load_installed_extensions(registry)
        + load_extension_dirs([settings.extensions_dir, *settings.extension_dirs], registry)
    )


def executor_factory(settings: Settings) -> ExecutorFactory:
    """The executor ``settings.executor`` names: in this process, or on Ray's workers (``RayUnavailable``
    when Ray is not installed or its cluster cannot be joined)."""
    if settings.executor == "ray":
        from opendream.engine.ray_executor import RayExecutor, connect

        connect(settings.ray_address)  # before anything is loaded: a bad address fails at once
        return RayExecutor
    return Executor


class Workspace:
    """``registry`` holds the ops it runs and is what it loads extensions into: the global
    ``REGISTRY`` unless given one (a test's ``REGISTRY.copy()`` with its own test ops, say)."""

    def __init__(
        self,
        settings: Settings,
        *,
        registry: OpRegistry = REGISTRY,
        runtime: Runtime | None = None,
        extensions: list[ExtensionStatus] | None = None,
        executor: ExecutorFactory | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        make = executor or executor_factory(settings)
        statuses = extensions if extensions is not None else load_ops(settings, registry)
        self.extensions = Extensions(settings, registry, statuses)
        self.data: DataDir = open_data_dir(settings.data_dir)
        self.runtime = runtime or make_runtime(settings)
        try:
            self.executor = make(registry, self.data.blobs, self.data.db, self.runtime)
        except BaseException:
            self.data.close()
            raise
        self.runner = Runner(self.executor)

    def close(self) -> None:
        self.executor.close()
        self.data.close()

    # --- projects ---------------------------------------------------------------------

    def save_new(self, project: Project) -> None:
        self.data.db.create_project(project.to_dict())

    def load(self, project_id: str) -> Project:
        return Project.from_dict(self.data.db.load_project(project_id))

    def save(self, project: Project, expected_revision: int) -> None:
        self.data.db.save_project(project.to_dict(), expected_revision)

    # --- workflows ----------------------------------------------------------------------

    def import_workflow(self, imported: workflow.ImportedWorkflow) -> Project:
        """Store an already validated workflow's assets and its project."""
        for data in imported.assets.values():
            self.data.blobs.put(data)
        self.save_new(imported.project)
        return imported.project

    def export_workflow(self, project: Project, embed: Literal["assets", "all"] = "assets") -> dict:
        return workflow.export_workflow(
            project,
            self.registry,
            self.data.blobs.get,
            embed=embed,
            environment=self.runtime.environment,
            sources=self.extensions.provenance(),
        )

    def composite(self, project: Project) -> Image.Image:
        """The canvas: visible image layers placed, masked, faded and blended, bottom first. Each
        layer is decoded only when its turn comes; ``PixelBudgetExceeded`` before any is decoded
        when together they cost more than ``settings.pixel_budget``."""
        blobs = self.data.blobs
        shown = [
            x for x in project.layers if x.visible and x.kind == "image" and x.status == "ready" and x.blob
        ]
        masks = {x.id: x.blob for x in project.layers if x.kind == "mask" and x.status == "ready" and x.blob}
        needed = [x.blob for x in shown] + [masks[x.mask] for x in shown if x.mask in masks]
        check_pixel_budget(
            (blobs.image_size(blob) for blob in needed), self.settings.pixel_budget, "exporting the canvas"
        )
        return composite(
            (
                CanvasLayer(
                    blobs.get_image(x.blob),
                    x.placement,
                    x.opacity,
                    x.blend,
                    blobs.get_image(masks[x.mask]) if x.mask in masks else None,
                )
                for x in shown
            ),
            (project.width, project.height),
        )

    # --- running ------------------------------------------------------------------------

    def replay(
        self,
        project: Project,
        expected: dict[str, str | None],
        recorded: dict[str, Any] | None = None,
        **kwargs,
    ) -> ReplayReport:
        """Run every layer that needs it and compare each result with the recorded hash;
        ``recorded``: the environment the file was made in (a layer that differs says when its
        backend was another)."""
        runs = {run.layer: run for run in self.runner.run_pending(project, **kwargs)}
        report = ReplayReport()
        for layer in project.layers:
            run = runs.get(layer.group) or LayerRun(
                layer.id, layer.recipe.op, "cached" if layer.blob else "skipped"
            )
            want = expected.get(layer.id)
            result = replay_result(layer, want)
            report.layers.append(
                LayerReport(
                    layer=layer.id,
                    name=layer.name,
                    op=layer.recipe.op,
                    outcome=run.outcome,
                    seconds=round(run.seconds, 3),
                    result=result,
                    blob=layer.blob,
                    expected=want,
                    error=layer.run.error,
                    note=provenance.layer_note(layer.run, self.registry.ops.get(layer.recipe.op)),
                    reason=differs_because(layer, recorded) if result == "differs" else None,
                )
            )
        return report
