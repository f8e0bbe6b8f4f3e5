"""The job queue's workers: threads that claim persistent jobs and run them on the executor.

A job runs one layer group in three steps so that no project is held while an op computes:
(1) mark the group running and resolve its input blobs, (2) execute the recipe, (3) store the
outputs, only if the recipe is still the one that was run (an edit meanwhile queued a new job).
Steps 1 and 3 go through ``ProjectService.update`` (compare-and-swap with retry)."""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from PIL import Image

from opendream.core.errors import LayerNotFound, ProjectNotFound
from opendream.core.project import Project
from opendream.core.recipe import Recipe, RunRecord
from opendream.engine import events
from opendream.engine.consent import Trust, recipe_digest
from opendream.engine.executor import Executor, InputBlobs
from opendream.engine.hooks import Hooks
from opendream.engine.run import GroupRun, holds_results, plan, run_group
from opendream.engine.runner import InputNotReady, resolve_inputs
from opendream.server.service import ProjectService
from opendream.storage.consent import ConsentStore
from opendream.storage.jobs import INTERRUPTED, JobState, JobStore

log = logging.getLogger(__name__)

PREVIEW_SIDE = 128
POLL_SECONDS = 1.0
WORKER_NICE = 10
_RUNNABLE = {"pending", "stale", "failed", "cancelled", "running"}


@dataclass
class _Prepared:
    """What step 1 found: a recipe to run, or why not."""

    recipe: Recipe | None = None
    inputs: InputBlobs | None = None
    layers: tuple[str, ...] = ()
    skip: str | None = None
    failure: str | None = None
    kept: bool = False  # the group had its results when a forced run began


def preview_jpeg(image: Image.Image) -> str:
    """A small base64 JPEG of a progress preview."""
    small = image.convert("RGB")
    small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=70)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _same_recipe(a: Recipe, b: Recipe) -> bool:
    return (a.op, a.op_version, a.params, a.inputs) == (b.op, b.op_version, b.params, b.inputs)


class JobQueue:
    def __init__(self, service: ProjectService, store: JobStore, *, workers: int = 1) -> None:
        self.service = service
        self.store = store
        self.consent = ConsentStore(store.db)
        self.workers = workers
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._cancel: dict[str, threading.Event] = {}
        self._threads: list[threading.Thread] = []

    @property
    def _executor(self) -> Executor:
        return self.service.workspace.executor

    # -- life cycle ---------------------------------------------------------------------------

    def recover(self) -> list[dict[str, Any]]:
        """Jobs a crash left running become failed (interrupted); their layers become stale."""
        jobs = self.store.interrupt_running()
        for job in jobs:
            try:
                project, ids = self.service.update(
                    job["project_id"], lambda p, job=job: self._mark_group(p, job["layer_id"], "stale")
                )
            except ProjectNotFound:
                continue
            self.service.publish_layers(project, ids)
        return jobs

    def start(self) -> None:
        self._stopping.clear()
        for index in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"opendream-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the workers; a job still running is interrupted as a crash would (layers stale)."""
        self._stopping.set()
        with self._lock:
            for event in self._cancel.values():
                event.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    # -- submitting and cancelling -------------------------------------------------------------

    def submit(
        self, project: Project, layer_ids: Iterable[str], *, force: bool = False, supersede: bool = True
    ) -> list[dict]:
        """Queue one job per layer group among ``layer_ids`` (in topological order), skipping
        groups that already have a queued job. A group's running job is cancelled and queued
        again when ``supersede`` (its recipe changed, so its result would be discarded);
        otherwise the group is left to it."""
        groups: list[str] = []
        for layer_id in project.topological_order(layer_ids):
            group = project.layer(layer_id).group
            if group not in groups:
                groups.append(group)
        active = self.store.active(project.id)
        queued = {j["layer_id"] for j in active if j["state"] == "queued"}
        # A file's layers that wait for the user's consent are not queued, whoever asks.
        queued |= {w["layer"] for w in self.waiting(project)}
        running = {j["layer_id"]: j["id"] for j in active if j["state"] == "running"}
        jobs = []
        for group in groups:
            if group in queued:
                continue
            if group in running:
                if not supersede:
                    continue
                self._request_cancel(running[group])
            job = self.store.enqueue(project.id, group, project.layer(group).recipe.op, force=force)
            jobs.append(job)
            self.service.hub.publish({"type": "job.queued", "job": job})
        self._wake.set()
        return jobs

    def edit(
        self,
        project_id: str,
        change: Callable[[Project], list[str]],
        *,
        shown: Iterable[str] | None = (),
    ) -> tuple[Project, list[str], list[dict]]:
        """The sequence every editing request follows: apply ``change`` (which returns the
        layers it made need a run), queue those, and tell the clients about them and ``shown``
        (``None``: every layer). Returns the project, the layers to re-run and their jobs."""
        project, rerun = self.service.update(project_id, change)
        jobs = self.submit(project, rerun) if rerun else []
        told = [x.id for x in project.layers] if shown is None else sorted({*rerun, *shown})
        self.service.publish_layers(project, told)
        return project, rerun, jobs

    def waiting(self, project: Project) -> list[dict[str, Any]]:
        """The project's layer groups that wait for consent (their recipe is still the file's)."""
        return [
            w
            for w in self.consent.waiting(project.id)
            if project.has_layer(w["layer"])
            and recipe_digest(project.layer(w["layer"]).recipe) == w["recipe"]
        ]

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a queued job now, or ask a running one to stop at its next step.
        Returns the job (``KeyError`` if unknown)."""
        job = self.store.get(job_id)
        if job["state"] == "queued" and self.store.cancel_queued(job_id):
            job = self.store.get(job_id)
            self._settle_cancelled_queued(job)
            self.service.hub.publish({"type": "job.cancelled", "job": job})
            return job
        if job["state"] in ("queued", "running"):
            self._request_cancel(job_id)
        return self.store.get(job_id)

    def cancel_project(self, project_id: str) -> list[dict[str, Any]]:
        """Cancel all of a project's jobs before it is deleted: the queued ones in one write
        (no per-job project update racing the worker), the running one at its next step.
        Returns the jobs cancelled or asked to stop."""
        cancelled = self.store.cancel_project_queued(project_id)
        for job in cancelled:
            self.service.hub.publish({"type": "job.cancelled", "job": job})
        running = [j for j in self.store.active(project_id) if j["state"] == "running"]
        for job in running:
            self._request_cancel(job["id"])
        return cancelled + running

    def _request_cancel(self, job_id: str) -> None:
        with self._lock:
            self._cancel.setdefault(job_id, threading.Event()).set()

    def _settle_cancelled_queued(self, job: dict[str, Any]) -> None:
        def change(project: Project) -> list[str]:
            if not project.has_layer(job["layer_id"]):
                return []
            if any(j["layer_id"] == job["layer_id"] for j in self.store.active(project.id)):
                return []  # a newer job will still run this group
            return self._mark_group(project, job["layer_id"], "cancelled", error="cancelled")

        try:
            project, ids = self.service.update(job["project_id"], change)
        except ProjectNotFound:
            return
        self.service.publish_layers(project, ids)

    # -- the worker ----------------------------------------------------------------------------

    def _work(self) -> None:
        if hasattr(os, "setpriority"):
            # Generation is background work: requests must win the CPU (Linux: per-thread nice).
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICE)
        while not self._stopping.is_set():
            try:
                job = self.store.claim_next()
            except Exception:
                log.exception("cannot claim a job")
                job = None
            if job is None:
                self._wake.wait(POLL_SECONDS)
                self._wake.clear()
                continue
            try:
                self._run(job)
            except Exception:  # a bug here must not kill the worker; the job ends failed
                log.exception("job %s crashed the worker step", job["id"])
                self._end(job, "failed", error="internal error while running the job")
            self._wake.set()  # the project may have more jobs waiting behind this one

    def _run(self, job: dict[str, Any]) -> None:
        with self._lock:
            cancel = self._cancel.setdefault(job["id"], threading.Event())
            if self._stopping.is_set():  # claimed just as stop() cancelled the running jobs
                cancel.set()
        try:
            project, prepared = self.service.update(job["project_id"], lambda p: self._prepare(p, job))
        except ProjectNotFound:
            self._end(job, "cancelled", error="the project was deleted")
            return
        self.service.publish_layers(project, prepared.layers)
        if prepared.skip is not None:
            self._end(job, "completed", outcome="skipped", error=None)
            return
        if prepared.failure is not None:
            self._end(job, "failed", error=prepared.failure)
            return
        assert prepared.recipe is not None and prepared.inputs is not None
        self.service.hub.publish({"type": events.STARTED, "job": self.store.get(job["id"])})

        def publish(kind: str, **fields: Any) -> None:
            self.service.hub.publish(
                {
                    "type": kind,
                    "job": job["id"],
                    "project": job["project_id"],
                    "layers": list(prepared.layers),
                }
                | fields
            )

        def progress(step: int, total: int, preview: Image.Image | None) -> None:
            extra = {"preview": preview_jpeg(preview)} if preview is not None else {}
            publish(events.PROGRESS, step=step, total=total, **extra)

        hooks = Hooks(
            progress=progress,
            download=lambda done, total: publish(events.DOWNLOAD, done_bytes=done, total_bytes=total),
            status=lambda text: publish(events.STATUS, text=text),
            cancel=cancel,
            placed=lambda worker, node: self.store.placed(job["id"], worker, node),
        )
        from_file, consented = self.consent.lookup(
            job["project_id"], job["layer_id"], recipe_digest(prepared.recipe)
        )
        ran = run_group(
            self._executor,
            prepared.recipe,
            prepared.inputs,
            hooks,
            use_cache=not job["force"],
            trust=Trust(from_file=from_file, consented=consented),
            had_results=prepared.kept,
        )
        if ran.execution is None:
            self._settle(job, prepared.recipe, ran)
            return
        execution = ran.execution
        run = RunRecord(
            duration=round(execution.seconds, 4),
            cache_hit=execution.cache_hit,
            environment=execution.environment,
            job=job["id"],
            made_by=execution.made_by,
        )

        def store(project: Project) -> list[str]:
            head = project.layer(job["layer_id"]) if project.has_layer(job["layer_id"]) else None
            if head is None or not _same_recipe(head.recipe, prepared.recipe):
                return []  # deleted or edited meanwhile: the result stays in the cache only
            before = {x.id for x in project.group(head.id)}
            removed = project.set_outputs(head.id, execution.outputs, run)
            return sorted(before | {x.id for x in project.group(head.id)} | set(removed))

        try:
            project, ids = self.service.update(job["project_id"], store)
        except ProjectNotFound:
            ids = []
        else:
            self.service.publish_layers(project, ids)
        self._end(job, "completed", outcome="cached" if execution.cache_hit else "computed")

    def _prepare(self, project: Project, job: dict[str, Any]) -> _Prepared:
        """Step 1 (inside a project update): check the group still needs this run, resolve its
        inputs, mark it running (or failed when an input has no pixels)."""
        try:
            group = project.group(job["layer_id"])
        except LayerNotFound:
            return _Prepared(skip="the layer was deleted")
        ids = tuple(x.id for x in group)
        spec = self._executor.registry.get(group[0].recipe.op)
        if plan(spec, group, self._executor.blobs.has, force=job["force"], replay=False) == "skip":
            return _Prepared(layers=ids, skip="already ready")
        kept = holds_results(group, self._executor.blobs.has)
        try:
            inputs = resolve_inputs(project, group[0].id)
        except InputNotReady as exc:
            project.mark(ids, "failed", error=exc.message)
            return _Prepared(layers=ids, failure=exc.message)
        for layer in group:
            layer.run = RunRecord(job=job["id"], made_by=layer.run.made_by)  # kept: see set_outputs
        project.mark(ids, "running")
        return _Prepared(recipe=group[0].recipe, inputs=inputs, layers=ids, kept=kept)

    def _settle(self, job: dict[str, Any], recipe: Recipe, ran: GroupRun) -> None:
        """End a job whose run gave no outputs, as ``run_group`` said it ended."""
        if ran.outcome == "needs consent":
            if ran.status == "pending":  # listed by GET …/consent until the user says yes
                self.consent.ask(job["project_id"], job["layer_id"], ran.error or "")
            self._finish_layers(job, recipe, ran.status or "pending", error=ran.layer_error)
            self._end(job, "cancelled", error=f"waiting for consent: {ran.error}")
            self.service.hub.publish({"type": events.CONSENT, "project": job["project_id"]})
        elif ran.outcome == "cancelled" and self._stopping.is_set():
            # The server stopped, not the user: the group runs again at the next start.
            self._finish_layers(job, recipe, "stale", error=None)
            self._end(job, "failed", error=INTERRUPTED)
        elif ran.outcome == "cancelled":
            self._finish_layers(job, recipe, "cancelled", error=ran.error)
            self._end(job, "cancelled", error=ran.error)
        else:
            log.warning("job %s (%s) failed: %s", job["id"], job["op"], ran.error)
            self._finish_layers(job, recipe, "failed", error=ran.error)
            self._end(job, "failed", error=ran.error)

    def _finish_layers(self, job: dict[str, Any], recipe: Recipe, status: str, error: str | None) -> None:
        def change(project: Project) -> list[str]:
            if not project.has_layer(job["layer_id"]):
                return []
            if not _same_recipe(project.layer(job["layer_id"]).recipe, recipe):
                return []
            return self._mark_group(project, job["layer_id"], status, error=error)

        try:
            project, ids = self.service.update(job["project_id"], change)
        except ProjectNotFound:
            return
        self.service.publish_layers(project, ids)

    @staticmethod
    def _mark_group(project: Project, layer_id: str, status: str, error: str | None = None) -> list[str]:
        if not project.has_layer(layer_id):
            return []
        ids = [x.id for x in project.group(layer_id) if x.status in _RUNNABLE]
        if ids:
            project.mark(ids, status, error=error)
        return ids

    def _end(
        self, job: dict[str, Any], state: JobState, *, error: str | None = None, outcome: str | None = None
    ) -> None:
        if not self.store.finish(job["id"], state, error=error, outcome=outcome):
            log.warning("job %s was no longer running when it ended %s", job["id"], state)
        with self._lock:
            self._cancel.pop(job["id"], None)
        self.service.hub.publish({"type": f"job.{state}", "job": self.store.get(job["id"])})
