"""Runs a project's layers: resolve inputs, execute, store results on the layers, report.

Works on an in-memory ``Project``; the caller persists it (CLI and server decide when). With an
executor that runs several recipes at once (Ray's workers), the groups whose inputs are ready run
side by side; the project is read and changed under a lock, never while an op computes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass

from opendream.core.errors import OpendreamError
from opendream.core.project import Project
from opendream.core.recipe import RunRecord
from opendream.engine import events
from opendream.engine.consent import USER, Trust
from opendream.engine.events import Event, EventSink, ignore
from opendream.engine.executor import Executor, InputBlobs
from opendream.engine.hooks import Hooks
from opendream.engine.run import RunOutcome, holds_results, plan, run_group

# The event that says how a run that gave no outputs ended.
_ENDED = {"needs consent": events.CONSENT, "cancelled": events.CANCELLED, "failed": events.FAILED}


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


@contextmanager
def cancelled_on_error(event: threading.Event) -> Iterator[None]:
    """Set ``event`` when the block raises (Ctrl+C included): the ops running on other threads
    stop at their next step, so leaving a thread pool does not wait for them to finish."""
    try:
        yield
    except BaseException:
        event.set()
        raise


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
        lock: AbstractContextManager | None = None,
    ) -> LayerRun:
        """Run the recipe of ``layer_id``'s group and store the outputs on the group's layers.
        A file's recipe (``trust``) that needs consent it lacks stays pending, nothing sent.
        ``lock`` is held while the project is read or changed, not while the op computes."""
        lock = lock or nullcontext()
        with lock:
            group = project.group(layer_id)
            head = group[0]
            ids = [x.id for x in group]
            spec = self.executor.registry.get(head.recipe.op)
            if plan(spec, group, self.executor.blobs.has, force=force, replay=True) == "reuse":
                project.mark(ids, "ready")
                return LayerRun(head.id, spec.name, "reused")
            try:
                inputs = resolve_inputs(project, head.id)
            except InputNotReady as exc:
                project.mark(ids, "failed", error=exc.message)
                on_event(Event(events.FAILED, {"layers": ids, "error": exc.message}))
                return LayerRun(head.id, spec.name, "failed", error=exc.message)
            had_results = holds_results(group, self.executor.blobs.has)
            project.mark(ids, "running")
            on_event(Event(events.STARTED, {"layers": ids, "op": spec.name}))
        hooks = Hooks(
            progress=lambda step, total, preview: on_event(
                Event(events.PROGRESS, {"layers": ids, "step": step, "total": total, "preview": preview})
            ),
            download=lambda done, total: on_event(
                Event(events.DOWNLOAD, {"layers": ids, "done_bytes": done, "total_bytes": total})
            ),
            status=lambda text: on_event(Event(events.STATUS, {"layers": ids, "text": text})),
            cancel=cancel_event,
        )
        ran = run_group(
            self.executor,
            head.recipe,
            inputs,
            hooks,
            use_cache=not force,
            trust=trust,
            had_results=had_results,
        )
        with lock:
            if ran.execution is None:
                project.mark(ids, ran.status or "failed", error=ran.layer_error)
                on_event(Event(_ENDED[ran.outcome], {"layers": ids, "error": ran.error}))
                return LayerRun(head.id, spec.name, ran.outcome, error=ran.error)
            execution = ran.execution
            run = RunRecord(
                duration=round(execution.seconds, 4),
                cache_hit=execution.cache_hit,
                environment=execution.environment,
                made_by=execution.made_by,
            )
            removed = project.set_outputs(head.id, execution.outputs, run)
            on_event(
                Event(
                    events.COMPLETED,
                    {
                        "layers": [x.id for x in project.group(head.id)],
                        "outcome": ran.outcome,
                        "removed": removed,
                    },
                )
            )
            return LayerRun(head.id, spec.name, ran.outcome, execution.seconds, removed=tuple(removed))

    def run_pending(
        self,
        project: Project,
        *,
        force: bool = False,
        cancel_event: threading.Event | None = None,
        on_event: EventSink = ignore,
        trust: Trust = USER,
    ) -> list[LayerRun]:
        """Run every layer that needs it (all of them with ``force``), in topological order;
        as many groups at once as the executor runs recipes (its ``parallelism``), each once
        the groups it takes inputs from have run."""
        todo = project.topological_order() if force else project.needs_run()
        groups = list(dict.fromkeys(project.layer(x).group for x in todo))
        # The groups of this run each waits for: those its head's recipe takes inputs from.
        after = {
            group: {project.layer(i).group for i in project.layer(group).recipe.input_ids()} & set(groups)
            for group in groups
        }
        runs: dict[str, LayerRun | None] = {}
        lock = threading.Lock()
        # The ops run on the pool's threads: when this one stops waiting (Ctrl+C), they are told
        # to stop at their next step, or the pool's end would wait for them to finish.
        cancel_event = cancel_event or threading.Event()

        def run(group: str) -> LayerRun | None:
            if not project.has_layer(group):
                return None  # an output its input's new run no longer makes, and removed
            if cancel_event.is_set():
                return LayerRun(group, project.layer(group).recipe.op, "skipped")
            return self.run_layer(
                project,
                group,
                force=force,
                cancel_event=cancel_event,
                on_event=on_event,
                trust=trust,
                lock=lock,
            )

        slots = max(1, self.executor.parallelism)
        with ThreadPoolExecutor(slots, "opendream-run") as pool, cancelled_on_error(cancel_event):
            running: dict[Future[LayerRun | None], str] = {}
            while len(runs) < len(groups):
                # The next ready groups in topological order (one at a time: exactly that order).
                for group in groups:
                    if len(running) == slots:
                        break
                    if group not in runs and group not in running.values() and after[group] <= set(runs):
                        running[pool.submit(run, group)] = group
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    runs[running.pop(future)] = future.result()
        return [ran for group in groups if (ran := runs[group]) is not None]
