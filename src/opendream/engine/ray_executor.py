"""The Ray executor: the executor seam with the op run by a pool of Ray actors (one per GPU, or
per configured CPU worker), each with its own model manager (``ray_worker.py``).

The server keeps its part of every run (``Executor.execute``: cache lookup, consent, pixel
budget, storing outputs): a cached layer never leaves the server, and the server stays the only
writer of SQLite and the blob store. Only ``compute`` goes to an actor: the input blobs travel
through Ray's object store by content hash, the op's events and then its output PNG bytes come
back. A job goes to an idle actor that already ran its model (model affinity), else to the least
recently used idle one; an actor lost mid-run (killed, out of memory, its node gone) is
restarted by Ray and the run is tried once more on another actor. The server may join the
cluster as a driver (on one of its nodes) or from outside it through a Ray Client (ray://).

Ray is optional (``pip install 'opendream[ray]'``): it is imported when this executor is made."""

from __future__ import annotations

import io
import logging
import re
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from opendream.core.errors import Cancelled, OpendreamError, OpFailed
from opendream.core.recipe import Recipe, asset_digest, canonical_json
from opendream.core.registry import OpRegistry, OpSpec
from opendream.engine.consent import Trust
from opendream.engine.executor import Computed, Executor, InputBlobs, input_digests, op_identity
from opendream.engine.hooks import Hooks
from opendream.engine.runtime import Runtime
from opendream.settings import Settings
from opendream.storage.blobs import BlobStore
from opendream.storage.db import Database

log = logging.getLogger(__name__)

MISSING = "the Ray executor needs Ray: install the ray extra: pip install 'opendream[ray]'"
MISSING_CLIENT = (
    "a Ray Client address (ray://) needs Ray's client extra (grpcio): install the ray extra again: "
    "pip install 'opendream[ray]'"
)
CLIENT = "ray://"
#: A job tried on a second actor after the first was lost; then it fails.
ATTEMPTS = 2
#: How long a job waits for the busy actor that holds its model before an idle one loads it: a
#: model load (seconds to tens of seconds) costs more than waiting for a running job to end.
AFFINITY_WAIT_S = 5.0
#: How many models (base + LoRAs) an actor is taken to hold, most recently used last.
MODELS_HELD = 4
#: Input blobs kept in the object store, so a chain of jobs on one picture ships it once.
SHIPPED_KEPT = 16
#: How often a run's waiting loop looks at its cancel event.
CANCEL_POLL_S = 0.05
START_TIMEOUT_S = 120.0
CONNECT_TIMEOUT_S = 5.0
_ASSET = re.compile(r"^sha256:[0-9a-f]{64}$")


class RayUnavailable(OpendreamError):
    """Ray is not installed, its cluster cannot be reached, or cannot host the workers."""


class WorkerLost(Exception):
    """A Ray Client's run whose actor Ray restarted between two reads of its events."""


def require_ray() -> Any:
    """The ``ray`` module, or ``RayUnavailable`` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise RayUnavailable(MISSING) from None
    return ray


def check_reachable(address: str) -> None:
    """Fail fast on a cluster address nothing answers at (Ray itself retries for a minute)."""
    host, _, port = address.removeprefix(CLIENT).rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        what = "Ray Client server" if address.startswith(CLIENT) else "Ray cluster"
        raise RayUnavailable(
            f"no {what} answers at {address} ({exc.strerror or exc}); start one with "
            "`ray start --head` or correct OPENDREAM_RAY_ADDRESS (--ray-address)"
        ) from None


#: What a Ray Client connection that times out may lack (Ray logs which, and raises a timeout).
CLIENT_HINT = (
    "give the port of the head's Ray Client server (10001 unless `ray start --head "
    "--ray-client-server-port` said otherwise), not its GCS port"
)
TOKEN_HINT = (
    "with its token authentication on, set RAY_AUTH_MODE=token and give this process the "
    "cluster's token (RAY_AUTH_TOKEN, or the file `ray get-auth-token` reads)"
)


def connect(address: str | None) -> Any:
    """Join the Ray cluster at ``address`` (``auto``: the one this machine is part of;
    ``ray://host:port``: through its Ray Client server; unset: start a local one), unless this
    process already has. Returns the ``ray`` module."""
    ray = require_ray()
    client = address is not None and address.startswith(CLIENT)
    if client:
        try:
            import grpc  # noqa: F401  (what Ray Client needs; Ray itself says "ray[client]")
        except ImportError:
            raise RayUnavailable(MISSING_CLIENT) from None
    if address not in (None, "auto", "local"):
        check_reachable(address)
    if not ray.is_initialized():
        try:
            # A Ray Client passes ray.init's arguments to the cluster's driver, which has its own.
            ray.init(address=address, **({} if client else {"include_dashboard": False}))
        except ConnectionAbortedError as exc:
            # The client server's process for this connection ended at its start (Ray issue 63202).
            cause = str(exc).splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise RayUnavailable(
                f"the Ray Client server at {address} could not start this connection's driver "
                f"({cause}); see ray_client_server_*.err in the head's Ray logs, and start Ray on the "
                "head with GRPC_ENABLE_FORK_SUPPORT=0 in its environment (see docs/scale-out.md)"
            ) from None
        except ConnectionError as exc:
            # Ray logs the cause (often a missing token) and raises only "failed to connect".
            hints = f"{CLIENT_HINT}; {TOKEN_HINT}" if client else TOKEN_HINT
            raise RayUnavailable(f"cannot join the Ray cluster at {address}: {exc}; {hints}") from None
        except (RuntimeError, ValueError) as exc:
            raise RayUnavailable(f"cannot start or join Ray ({address or 'local'}): {exc}") from None
    return ray


def affinity_key(identity: Any) -> str | None:
    """What an actor must hold to run a recipe without loading: the weights its op's identity
    names (model, LoRAs, ControlNet …, an empty ``model`` resolved to its role's default, so
    ``dream`` and ``img2img`` of one model share it); ``None`` for an op without one."""
    return None if identity is None else canonical_json(identity)


def asset_digests(params: Any) -> list[str]:
    """The blobs of the asset references (``sha256:<hex>``) anywhere in ``params``."""
    if isinstance(params, str):
        return [asset_digest(params)] if _ASSET.match(params) else []
    if isinstance(params, dict):
        params = list(params.values())
    if isinstance(params, list):
        return [digest for value in params for digest in asset_digests(value)]
    return []


@dataclass(eq=False)
class Member:
    """One actor of the pool, as the router sees it."""

    actor: Any
    name: str
    node: str = ""
    pid: int = 0
    #: Affinity keys of the models it ran, most recently used last.
    models: list[str] = field(default_factory=list)
    busy: bool = False
    used_at: float = 0.0
    #: Restarted by Ray since its node was read: read it again before saying where a job runs.
    restarted: bool = False

    def locate(self, where: dict[str, Any]) -> None:
        self.node, self.pid, self.restarted = where["node"], where["pid"], False


class RayPool:
    """The actors and the router that lends them to runs. Shared by the executors of one
    cluster connection (tests and benchmarks reuse one pool)."""

    def __init__(self, settings: Settings, *, load_models: bool = True, size: int | None = None) -> None:
        ray = connect(settings.ray_address)
        from opendream.engine.ray_worker import Worker

        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        size = size or settings.ray_workers or gpus or 1
        unit = "GPU" if gpus else "CPU"
        if size > resources.get(unit, 0):
            raise RayUnavailable(
                f"{size} Ray workers need {size} {unit}s (one each); the cluster has {resources.get(unit, 0):g}"
            )
        options = {"num_gpus": 1} if gpus else {"num_cpus": 1}
        # Threaded (max_concurrency) so that a cancel reaches a running job; restarted by Ray
        # when its process dies, while the run it had is retried here on another actor.
        actor_class = ray.remote(Worker).options(max_restarts=-1, max_concurrency=4, **options)
        actors = [actor_class.remote(settings, load_models) for _ in range(size)]
        try:
            wheres = ray.get([a.where.remote() for a in actors], timeout=START_TIMEOUT_S)
        except Exception as exc:
            for actor in actors:
                ray.kill(actor)
            raise RayUnavailable(f"the Ray workers did not start: {exc}") from None
        self.members = [Member(a, f"worker-{i}") for i, a in enumerate(actors)]
        for member, where in zip(self.members, wheres, strict=True):
            member.locate(where)
        self._changed = threading.Condition()

    @property
    def size(self) -> int:
        return len(self.members)

    def acquire(self, key: str | None, *, avoid: Member | None = None) -> Member:
        """An idle actor for a run needing ``key`` (not ``avoid``, the one just lost, unless it
        is the only one), waiting until one is free."""
        started = time.monotonic()
        with self._changed:
            while True:
                waited = time.monotonic() - started
                idle = [m for m in self.members if not m.busy and (m is not avoid or self.size == 1)]
                chosen = self.choose(idle, key, patient=waited < AFFINITY_WAIT_S)
                if chosen is not None:
                    chosen.busy = True
                    return chosen
                self._changed.wait(max(0.01, AFFINITY_WAIT_S - waited) if idle else None)

    def choose(self, idle: list[Member], key: str | None, *, patient: bool) -> Member | None:
        """The idle actor that holds ``key``, else one that holds nothing yet; else, while
        ``patient`` and a busy actor holds ``key``, none (wait for it); else the least recently
        used idle actor."""
        if not idle:
            return None
        if key is not None:
            holding = [m for m in idle if key in m.models]
            fresh = [m for m in idle if not m.models]
            if holding or fresh:
                return min(holding or fresh, key=lambda m: m.used_at)
            if patient and any(key in m.models for m in self.members if m.busy):
                return None
        return min(idle, key=lambda m: m.used_at)

    def release(self, member: Member, key: str | None, *, lost: bool = False) -> None:
        """Give ``member`` back after a run that needed ``key``; ``lost``: its process died
        (Ray restarts it without the models it held)."""
        with self._changed:
            member.busy = False
            member.used_at = time.monotonic()
            if lost:
                member.models.clear()
                member.restarted = True
            elif key is not None:
                others = [k for k in member.models if k != key]
                member.models = [*others[max(0, len(others) - MODELS_HELD + 1) :], key]
            self._changed.notify_all()

    def close(self) -> None:
        ray = require_ray()
        for member in self.members:
            ray.kill(member.actor)


class RayExecutor(Executor):
    """The executor whose ops run on a ``RayPool`` (its own, made from the settings, unless
    given one to share)."""

    def __init__(
        self,
        registry: OpRegistry,
        blobs: BlobStore,
        db: Database,
        runtime: Runtime,
        *,
        pool: RayPool | None = None,
    ) -> None:
        super().__init__(registry, blobs, db, runtime)
        self._ray = require_ray()
        self._owns_pool = pool is None
        # The actors load models when this process would: not for a runtime made without them.
        self.pool = pool or RayPool(runtime.settings, load_models=runtime.models is not None)
        self._shipped: OrderedDict[str, Any] = OrderedDict()
        self._shipping = threading.Lock()
        exceptions = self._ray.exceptions
        self._lost = (
            exceptions.RayActorError,
            exceptions.WorkerCrashedError,
            exceptions.OutOfMemoryError,
            WorkerLost,
        )
        # Ray Client has no streams (ray-project/ray#43357): its runs' events are polled.
        self._events = self._polled if self._ray.util.client.ray.is_connected() else self._streamed

    @property
    def parallelism(self) -> int:
        return self.pool.size

    def close(self) -> None:
        if self._owns_pool:
            self.pool.close()

    def compute(
        self, spec: OpSpec, recipe: Recipe, inputs: InputBlobs, hooks: Hooks, trust: Trust
    ) -> Computed:
        # An asset the store lacks is left to the op's load_asset, which says so as in process.
        assets = [d for d in asset_digests(recipe.params) if self.blobs.has(d)]
        blobs = self._ship([*input_digests(inputs), *assets])
        key = affinity_key(op_identity(spec, recipe, self.context(spec, hooks, trust)))
        avoid: Member | None = None
        failure: BaseException | None = None
        for _ in range(ATTEMPTS):
            if hooks.cancelled:
                raise Cancelled(f"{spec.name} was cancelled")
            member = self.pool.acquire(key, avoid=avoid)
            try:
                if member.restarted:
                    member.locate(self._ray.get(member.actor.where.remote(), timeout=START_TIMEOUT_S))
                hooks.placed(member.name, member.node)
                computed = self._run(member, recipe, inputs, blobs, trust, hooks)
            except self._lost as exc:
                self.pool.release(member, key, lost=True)
                log.warning("%s lost %s's run (%s); trying another worker", member.name, spec.name, exc)
                failure, avoid = exc, member
                continue
            except BaseException:
                self.pool.release(member, key)
                raise
            self.pool.release(member, key)
            return computed
        if isinstance(failure, self._ray.exceptions.OutOfMemoryError):
            raise OpFailed(
                f"{spec.name}: out of memory on the Ray workers (twice); try a smaller size, fewer images, or "
                "a lower OPENDREAM_MODEL_MEMORY_BUDGET_MB so fewer models stay loaded"
            )
        raise OpFailed(
            f"{spec.name}: the Ray worker running it was lost {ATTEMPTS} times (its process ended: killed, "
            "out of memory or its node gone); see `ray status` and the workers' logs"
        )

    def _ship(self, digests: list[str]) -> dict[str, Any]:
        """Object references of the blobs ``digests``, each put in the object store once."""
        refs = {}
        with self._shipping:
            for digest in dict.fromkeys(digests):
                if digest not in self._shipped:
                    self._shipped[digest] = self._ray.put(self.blobs.get(digest))
                self._shipped.move_to_end(digest)
                refs[digest] = self._shipped[digest]
            while len(self._shipped) > SHIPPED_KEPT:
                self._shipped.popitem(last=False)
        return refs

    def _run(
        self,
        member: Member,
        recipe: Recipe,
        inputs: InputBlobs,
        blobs: dict[str, Any],
        trust: Trust,
        hooks: Hooks,
    ) -> Computed:
        """One run on ``member``: its events go to ``hooks`` in order; a set cancel event is
        passed on to the actor once."""
        token = uuid.uuid4().hex
        cancel_sent = False
        for event in self._events(member, token, (recipe, inputs, blobs, trust)):
            if hooks.cancelled and not cancel_sent:
                member.actor.cancel.remote(token)
                cancel_sent = True
            if event is None:
                continue
            kind = event[0]
            if kind == "progress":
                _, step, total, jpeg = event
                hooks.progress(step, total, Image.open(io.BytesIO(jpeg)) if jpeg is not None else None)
            elif kind == "status":
                hooks.status(event[1])
            elif kind == "download":
                hooks.download(event[1], event[2])
            elif kind == "error":
                raise event[1]
            else:
                return event[1]
        raise OpFailed(f"{recipe.op}: {member.name} ended the run without a result")

    def _streamed(self, member: Member, token: str, args: tuple[Any, ...]) -> Iterator[tuple | None]:
        """The events of the run ``token`` as the actor streams them; ``None`` after each
        ``CANCEL_POLL_S`` without one."""
        stream = member.actor.run.options(num_returns="streaming").remote(token, *args)
        while True:
            ready, _ = self._ray.wait([stream], timeout=CANCEL_POLL_S)
            if not ready:
                yield None
                continue
            try:
                ref = next(stream)
            except StopIteration:
                return
            yield self._ray.get(ref)

    def _polled(self, member: Member, token: str, args: tuple[Any, ...]) -> Iterator[tuple | None]:
        """``_streamed`` through a Ray Client: the run is begun, then its events are read in
        batches, each read waiting up to ``CANCEL_POLL_S`` on the actor for one."""
        # Waited for: a threaded actor may run two calls of one caller in either order.
        self._ray.get(member.actor.start.remote(token, *args))
        while True:
            batch = self._ray.get(member.actor.events.remote(token, CANCEL_POLL_S))
            if batch[:1] == [("lost",)]:
                raise WorkerLost(f"{member.name} was restarted during the run")
            yield from batch or [None]
