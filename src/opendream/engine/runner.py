"""Runs a project's layers: resolve inputs, execute, store results on the layers, report.

Works on an in-memory ``Project``; the caller persists it (CLI and server decide when)."""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from typing import Literal

from PIL import Image

from opendream.core.errors import Cancelled, ConsentRequired, OpendreamError
from opendream.core.project import Project
from opendream.core.recipe import RunRecord
from opendream.engine.consent import USER, Trust
from opendream.engine.events import Event, EventSink, ignore
from opendream.engine.executor import Executor, InputBlobs

log = logging.getLogger(__name__)

RunOutcome = Literal["computed", "cached", "reused", "failed", "cancelled", "skipped", "needs consent"]


@dataclass
class LayerRun:
    """What happened to one layer in a run."""

    layer: str
    op: str
    outcome: RunOutcome
    seconds: float = 0.0
    error: str | None = None
    removed: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        data = asdict(self)
        data["removed"] = list(self.removed)
        return data


class InputNotReady(OpendreamError):
    """A layer's input has no pixels (it failed or was cancelled)."""


def resolve_inputs(project: Project, layer_id: str) -> InputBlobs:
    """The (kind, blob) of every input of ``layer_id``; ``InputNotReady`` if one has no pixels."""
    resolved: InputBlobs = {}
    for name, value in project.layer(layer_id).recipe.inputs.items():
        pairs = []
        for input_id in value if isinstance(value, list) else [value]:
            source = project.layer(input_id)
            if source.status != "ready" or source.blob is None:
                raise InputNotReady(f"input `{name}` (layer {input_id}) is {source.status}, not ready")
            pairs.append((source.kind, source.blob))
        resolved[name] = pairs if isinstance(value, list) else pairs[0]
    return resolved


class Runner:
    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def run_layer(
        self,
        project: Project,
        layer_id: str,
        *,
        force: bool = False,
        cancel_event: threading.Event | None = None,
        on_event: EventSink = ignore,
        trust: Trust = USER,
    ) -> LayerRun:
        """Run the recipe of ``layer_id``'s group and store the outputs on the group's layers.
        A file's recipe (``trust``) that needs consent it lacks stays pending, nothing sent."""
        group = project.group(layer_id)
        head = group[0]
        ids = [x.id for x in group]
        spec = self.executor.registry.get(head.recipe.op)
        if (
            not spec.deterministic
            and not force
            and all(x.blob and self.executor.blobs.has(x.blob) for x in group)
        ):
            # Results of remote/random ops are kept as assets: replay reuses them unless forced.
            project.mark(ids, "ready")
            return LayerRun(head.id, spec.name, "reused")
        try:
            inputs = resolve_inputs(project, head.id)
        except InputNotReady as exc:
            project.mark(ids, "failed", error=exc.message)
            on_event(Event("layer.failed", {"layers": ids, "error": exc.message}))
            return LayerRun(head.id, spec.name, "failed", error=exc.message)

        kept = all(x.status == "ready" and x.blob and self.executor.blobs.has(x.blob) for x in group)
        project.mark(ids, "running")
        on_event(Event("layer.started", {"layers": ids, "op": spec.name}))

        def progress(step: int, total: int, preview: Image.Image | None) -> None:
            on_event(
                Event("layer.progress", {"layers": ids, "step": step, "total": total, "preview": preview})
            )

        def download(done: int, total: int) -> None:
            on_event(Event("layer.download", {"layers": ids, "done_bytes": done, "total_bytes": total}))

        def status(text: str) -> None:
            on_event(Event("layer.status", {"layers": ids, "text": text}))

        try:
            execution = self.executor.execute(
                head.recipe,
                inputs,
                use_cache=not force,
                on_progress=progress,
                cancel_event=cancel_event,
                on_download=download,
                on_status=status,
                trust=trust,
            )
        except ConsentRequired as exc:
            if kept:  # a forced re-run that may not happen: the group keeps the result it has
                project.mark(ids, "ready")
            else:
                project.mark(ids, "pending", error=f"waiting for consent: {exc.message}")
            on_event(Event("layer.consent", {"layers": ids, "reason": exc.message}))
            return LayerRun(head.id, spec.name, "needs consent", error=exc.message)
        except Cancelled as exc:
            project.mark(ids, "cancelled", error=exc.message)
            on_event(Event("layer.cancelled", {"layers": ids}))
            return LayerRun(head.id, spec.name, "cancelled", error=exc.message)
        except Exception as exc:
            if isinstance(exc, OpendreamError):  # said to the user by the run's report
                message = exc.message
                log.info("op %s failed on layer %s: %s", spec.name, head.id, message)
            else:  # a bug: its traceback is what a report needs
                message = f"{type(exc).__name__}: {exc}"
                log.exception("op %s failed on layer %s", spec.name, head.id)
            project.mark(ids, "failed", error=message)
            on_event(Event("layer.failed", {"layers": ids, "error": message}))
            return LayerRun(head.id, spec.name, "failed", error=message)

        run = RunRecord(
            duration=round(execution.seconds, 4),
            cache_hit=execution.cache_hit,
            environment=self.executor.runtime.environment,
            made_by=execution.made_by,
        )
        removed = project.set_outputs(head.id, execution.outputs, run)
        outcome: RunOutcome = "cached" if execution.cache_hit else "computed"
        on_event(
            Event(
                "layer.completed",
                {"layers": [x.id for x in project.group(head.id)], "outcome": outcome, "removed": removed},
            )
        )
        return LayerRun(head.id, spec.name, outcome, execution.seconds, removed=tuple(removed))

    def run_pending(
        self,
        project: Project,
        *,
        force: bool = False,
        cancel_event: threading.Event | None = None,
        on_event: EventSink = ignore,
        trust: Trust = USER,
    ) -> list[LayerRun]:
        """Run every layer that needs it (all of them with ``force``), in topological order."""
        todo = project.topological_order() if force else project.needs_run()
        runs: list[LayerRun] = []
        done: set[str] = set()
        for layer_id in todo:
            if not project.has_layer(layer_id) or project.layer(layer_id).group in done:
                continue
            done.add(project.layer(layer_id).group)
            if cancel_event is not None and cancel_event.is_set():
                runs.append(LayerRun(layer_id, project.layer(layer_id).recipe.op, "skipped"))
                continue
            runs.append(
                self.run_layer(
                    project, layer_id, force=force, cancel_event=cancel_event, on_event=on_event, trust=trust
                )
            )
        return runs
