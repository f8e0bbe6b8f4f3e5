"""The Ray executor against a real local Ray cluster (head on 127.0.0.1, 4 CPUs) started once for
this module, with one pool of 2 actors that every test shares; the Ray Client tests run a real
``opendream serve`` that joins it through the head's Ray Client server (ray://) with 2 actors of
its own. The test ops (``tests/ray_ops.py``) are a user's extension folder that the server and
each actor load; they log what ran where."""

from __future__ import annotations

import asyncio
import functools
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
import ray
import websockets
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from opendream.cli import app as cli_app
from opendream.core.project import Project
from opendream.core.recipe import asset_ref
from opendream.core.registry import OpRegistry
from opendream.engine import events
from opendream.engine.executor import Executor
from opendream.engine.hooks import Hooks
from opendream.engine.loader import load_extension_dirs
from opendream.engine.ray_executor import (
    MISSING,
    MISSING_CLIENT,
    RayExecutor,
    RayPool,
    RayUnavailable,
    connect,
)
from opendream.engine.run import run_group
from opendream.engine.runtime import make_runtime
from opendream.engine.workspace import Workspace
from opendream.server.app import create_app
from opendream.settings import Settings
from opendream.storage.jobs import INTERRUPTED
from tests.server_fixtures import BASE, SERVER_OPS, new_project, png_bytes, wait_for, wait_idle

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def extensions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ray-extensions")
    shutil.copy(HERE / "ray_ops.py", folder / "ray_ops.py")
    return folder


@pytest.fixture(scope="module")
def ray_registry(extensions: Path) -> OpRegistry:
    """The server's ops: the server tests' (which the workers lack) and the extension folder's,
    loaded here as every worker loads them into its own process's registry."""
    registry = SERVER_OPS.copy()
    (status,) = load_extension_dirs([extensions], registry)
    assert status.error is None and "ray_test_model" in status.ops
    return registry


@pytest.fixture(scope="module")
def pool(extensions: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayPool]:
    # CPU actors everywhere (num_gpus=0): a GPU machine runs the same two-actor pool. Four CPUs:
    # two for this pool, two for the Ray Client server's.
    ray.init(address="local", num_cpus=4, num_gpus=0, include_dashboard=False, _node_ip_address="127.0.0.1")
    try:
        settings = Settings(data_dir=tmp_path_factory.mktemp("ray-workers"), extension_dirs=[extensions])
        shared = RayPool(settings, load_models=False, size=2)
        yield shared
        shared.close()
    finally:
        ray.shutdown()


@pytest.fixture
def workspace(
    pool: RayPool, extensions: Path, ray_registry: OpRegistry, tmp_path: Path
) -> Iterator[Workspace]:
    settings = Settings(data_dir=tmp_path / "data", device="cpu", extension_dirs=[extensions])
    ws = Workspace(
        settings,
        registry=ray_registry,
        runtime=make_runtime(settings, load_models=False),
        extensions=[],
        executor=functools.partial(RayExecutor, pool=pool),
    )
    yield ws
    ws.close()


@pytest.fixture
def client(workspace: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(workspace.settings, workspace=workspace), base_url=BASE) as test_client:
        yield test_client


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "log"
    folder.mkdir()
    return folder


def lines(log_dir: Path, name: str) -> list[list[str]]:
    path = log_dir / name
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def add_layer(client: httpx.Client, log_dir: Path, **params: Any) -> tuple[str, str]:
    """A new project with one ``ray_test_model`` layer; its id and the layer's job's id."""
    project = new_project(client)["id"]
    response = client.post(
        f"/api/projects/{project}/layers",
        json={"op": "ray_test_model", "params": {"log_dir": str(log_dir), **params}},
    )
    assert response.status_code == 201, response.text
    return project, response.json()["jobs"][0]["id"]


def recipe_layer(ws: Workspace, op: str, params: dict[str, Any], inputs: dict | None = None) -> Project:
    project = Project.new("ray", 64, 64)
    project.add_layer(ws.registry.get(op), params, inputs or {})
    return project


def test_the_server_runs_one_job_worker_per_actor(client: TestClient, workspace: Workspace) -> None:
    assert workspace.executor.parallelism == 2
    assert client.app.state.opendream.queue.workers == 2


def test_twenty_jobs_over_two_models_end_once_each_model_on_one_actor(
    client: TestClient, log_dir: Path, pool: RayPool
) -> None:
    models = [f"a-{uuid.uuid4().hex[:6]}", f"b-{uuid.uuid4().hex[:6]}"]
    jobs = [add_layer(client, log_dir, model=models[i % 2], seed=i, delay=0.02) for i in range(20)]
    for project, _ in jobs:
        wait_idle(client, project, timeout=30)

    runs = lines(log_dir, "runs")
    assert sorted(int(seed) for _, _, seed in runs) == list(range(20))  # each exactly once
    loads = lines(log_dir, "loads")
    assert sorted(model for _, model in loads) == sorted(models)  # one load per model
    for model in models:  # affinity: every run of a model where it was loaded
        assert {pid for pid, m, _ in runs if m == model} == {pid for pid, m in loads if m == model}
    assert len({pid for pid, _ in loads}) == 2  # the two models on the two actors
    pids = {str(m.pid): (m.name, m.node) for m in pool.members}
    for (project, job_id), (pid, _, _) in zip(jobs, sorted(runs, key=lambda r: int(r[2])), strict=True):
        job = client.get(f"/api/jobs/{job_id}").json()
        assert job["state"] == "completed", job
        assert (job["worker"], job["node"]) == pids[pid]
        layer = client.get(f"/api/projects/{project}").json()["layers"][0]
        assert layer["status"] == "ready"


def test_an_actor_killed_mid_job_the_job_completes_once_on_the_other(
    client: TestClient, log_dir: Path, pool: RayPool
) -> None:
    project, job_id = add_layer(client, log_dir, model=uuid.uuid4().hex, steps=20, delay=0.05)
    started = wait_for(lambda: lines(log_dir, "starts"), what="the job to start")
    killed = int(started[0][0])
    os.kill(killed, signal.SIGKILL)
    wait_idle(client, project, timeout=30)

    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["state"] == "completed", job
    runs = lines(log_dir, "runs")
    assert len(runs) == 1 and int(runs[0][0]) != killed
    survivor = next(m for m in pool.members if m.pid == int(runs[0][0]))
    assert job["worker"] == survivor.name
    layer = client.get(f"/api/projects/{project}").json()["layers"][0]
    assert layer["status"] == "ready" and layer["blob"]
    # Ray restarted the killed actor: the pool has both again, the lost one in a new process.
    lost = next(m for m in pool.members if m is not survivor)

    def restarted() -> dict | None:
        try:
            return ray.get(lost.actor.where.remote(), timeout=60)
        except ray.exceptions.ActorUnavailableError:  # still restarting
            return None

    assert wait_for(restarted, timeout=60, what="the killed actor's restart")["pid"] != killed


def test_a_job_whose_actor_dies_twice_fails_with_a_message(
    workspace: Workspace, log_dir: Path, pool: RayPool
) -> None:
    recipe = recipe_layer(workspace, "ray_test_crash", {"log_dir": str(log_dir)}).layers[0].recipe
    ran = run_group(workspace.executor, recipe, {}, Hooks())
    assert ran.outcome == "failed"
    assert ran.error == (
        "ray_test_crash: the Ray worker running it was lost 2 times (its process ended: killed, "
        "out of memory or its node gone); see `ray status` and the workers' logs"
    )
    assert len({pid for (pid,) in lines(log_dir, "starts")}) == 2  # once on each actor, no more
    # Ray restarts both: the pool runs the next job.
    again = recipe_layer(workspace, "ray_test_model", {"log_dir": str(log_dir)}).layers[0].recipe
    assert run_group(workspace.executor, again, {}, Hooks()).outcome == "computed"


def cancel_reaches_the_actor(client: httpx.Client, log_dir: Path, start_s: float) -> None:
    """A job cancelled while its op runs on an actor stops within a few of its steps."""
    project, job_id = add_layer(client, log_dir, model=uuid.uuid4().hex, steps=400, delay=0.05)
    wait_for(lambda: lines(log_dir, "starts"), timeout=start_s, what="the job to start")
    asked = time.monotonic()
    client.post(f"/api/jobs/{job_id}/cancel")
    wait_idle(client, project, timeout=10)
    assert time.monotonic() - asked < 10  # the op had 20 s to go
    assert client.get(f"/api/jobs/{job_id}").json()["state"] == "cancelled"
    assert lines(log_dir, "runs") == []
    assert client.get(f"/api/projects/{project}").json()["layers"][0]["status"] == "cancelled"


def test_cancel_reaches_the_actor_and_stops_the_op(client: TestClient, log_dir: Path) -> None:
    cancel_reaches_the_actor(client, log_dir, start_s=10)


def test_a_server_stopped_mid_job_stops_the_op_and_runs_the_layer_after_its_restart(
    workspace: Workspace, log_dir: Path
) -> None:
    with TestClient(create_app(workspace.settings, workspace=workspace), base_url=BASE) as client:
        project, job_id = add_layer(client, log_dir, model=uuid.uuid4().hex, steps=40, delay=0.05)
        wait_for(lambda: lines(log_dir, "starts"), what="the job to start")
    # The server waited for its job worker: had the op not stopped, it would have run to its end.
    assert lines(log_dir, "runs") == []
    with TestClient(create_app(workspace.settings, workspace=workspace), base_url=BASE) as client:
        job = client.get(f"/api/jobs/{job_id}").json()
        assert (job["state"], job["error"]) == ("failed", INTERRUPTED)
        assert client.get(f"/api/projects/{project}").json()["layers"][0]["status"] == "stale"
        replayed = client.post(f"/api/projects/{project}/replay", json={"timeout": 30}).json()
        assert replayed["complete"] and replayed["layers"][0]["status"] == "ready"
    assert len(lines(log_dir, "runs")) == 1


def test_events_arrive_in_order_and_a_cached_layer_never_leaves_the_server(
    workspace: Workspace, log_dir: Path
) -> None:
    project = recipe_layer(
        workspace, "ray_test_model", {"log_dir": str(log_dir), "model": uuid.uuid4().hex, "steps": 30}
    )
    recipe = project.layers[0].recipe
    events: list[tuple] = []
    hooks = Hooks(
        progress=lambda step, total, preview: events.append(("progress", step, total, preview)),
        status=lambda text: events.append(("status", text)),
    )
    first = workspace.executor.execute(recipe, {}, hooks)
    assert not first.cache_hit
    assert events[0][0] == "status" and events[0][1].startswith("loading")
    steps = [e[1] for e in events[1:]]
    assert steps == sorted(set(steps)) and steps[-1] == 30  # in order, bounded, the last kept
    assert isinstance(events[1][3], Image.Image)  # the first step's preview
    assert first.environment["device"] == "cpu"

    again = workspace.executor.execute(recipe, {}, Hooks())
    assert again.cache_hit and again.outputs == first.outputs
    assert len(lines(log_dir, "runs")) == 1


def test_assets_and_input_blobs_reach_the_actor_and_results_match_the_local_executor(
    workspace: Workspace,
) -> None:
    blobs = workspace.data.blobs
    asset = blobs.put_image(Image.new("RGB", (8, 8), (100, 50, 25)))
    project = Project.new("ray", 64, 64)
    source = project.add_layer(workspace.registry.get("load_image"), {"asset": asset_ref(asset)}, {})
    tint = project.add_layer(workspace.registry.get("ray_test_tint"), {"amount": 30}, {"image": source.id})
    local = Executor(workspace.registry, blobs, workspace.data.db, workspace.runtime)
    for recipe, inputs in [(source.recipe, {}), (tint.recipe, {"image": ("image", asset)})]:
        remote = workspace.executor.execute(recipe, inputs, Hooks(), use_cache=False)
        assert local.execute(recipe, inputs, Hooks(), use_cache=False).outputs == remote.outputs
    assert blobs.get_image(remote.outputs[0][1]).getpixel((0, 0)) == (130, 50, 25)


def test_a_replay_runs_independent_branches_side_by_side(workspace: Workspace, log_dir: Path) -> None:
    """Two layers with no input in common run at once on the two actors; a layer made from one
    starts once that one has run."""
    # Models no actor holds: one an earlier test left on an actor would make its layer wait for
    # that actor (affinity), rightly, if the other layer took it first.
    project = Project.new("branches", 64, 64)
    for _ in range(2):
        project.add_layer(
            workspace.registry.get("ray_test_model"),
            {"log_dir": str(log_dir), "model": uuid.uuid4().hex, "steps": 4, "delay": 0.2},
            {},
        )
    project.add_layer(workspace.registry.get("ray_test_tint"), {}, {"image": "L1"})
    times: dict[tuple[str, str], float] = {}

    def on_event(event: Any) -> None:
        # The first step an actor reports, not STARTED: that is sent before an actor is found.
        if event.type in (events.PROGRESS, events.STARTED, events.COMPLETED):
            times.setdefault((event.data["layers"][0], event.type), time.monotonic())

    runs = workspace.runner.run_pending(project, on_event=on_event)
    assert [(r.layer, r.outcome) for r in runs] == [
        ("L1", "computed"),
        ("L2", "computed"),
        ("L3", "computed"),
    ]
    assert times[("L2", events.PROGRESS)] < times[("L1", events.COMPLETED)], "L2 waited for L1"
    assert times[("L1", events.PROGRESS)] < times[("L2", events.COMPLETED)], "L1 waited for L2"
    assert times[("L3", events.STARTED)] >= times[("L1", events.COMPLETED)]
    assert len({pid for pid, *_ in lines(log_dir, "starts")}) == 2


def test_out_of_memory_in_an_actor_says_what_the_local_executor_says(workspace: Workspace) -> None:
    recipe = recipe_layer(workspace, "ray_test_oom", {}).layers[0].recipe
    ran = run_group(workspace.executor, recipe, {}, Hooks())
    assert ran.outcome == "failed"
    assert ran.error is not None and ran.error.startswith(
        "ray_test_oom: out of memory on cpu; try a smaller size"
    )


def test_an_op_the_workers_do_not_have_fails_with_the_loaders_message(workspace: Workspace) -> None:
    # server_test_fail is registered in the server's registry only (tests/server_fixtures.py), as
    # an extension installed on the server but not on the workers' machines would be.
    recipe = recipe_layer(workspace, "server_test_fail", {}).layers[0].recipe
    ran = run_group(workspace.executor, recipe, {}, Hooks())
    assert ran.outcome == "failed"
    assert ran.error is not None and ran.error.startswith("op not installed: 'server_test_fail'")


def test_a_missing_asset_fails_on_the_worker_as_it_does_in_process(workspace: Workspace) -> None:
    absent = "0" * 64
    recipe = recipe_layer(workspace, "load_image", {"asset": asset_ref(absent)}).layers[0].recipe
    local = Executor(workspace.registry, workspace.data.blobs, workspace.data.db, workspace.runtime)
    remote, here = (run_group(e, recipe, {}, Hooks()) for e in (workspace.executor, local))
    assert remote.outcome == here.outcome == "failed"
    assert remote.error == here.error and here.error is not None and absent in here.error


def test_without_ray_the_executor_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` does where it is missing
    settings = Settings(data_dir=tmp_path / "data", executor="ray")
    with pytest.raises(RayUnavailable) as caught:
        Workspace(settings, runtime=make_runtime(settings, load_models=False), extensions=[])
    assert caught.value.message == MISSING
    assert "pip install 'opendream[ray]'" in MISSING


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def client_address(pool: RayPool) -> str:
    """The ray:// address of the head's Ray Client server, started as `ray start --head
    --ray-client-server-port` starts it (and stopped with the head)."""
    node = ray._private.worker._global_node  # the head this module started
    node._ray_params.ray_client_server_port = port = _free_port()
    with pytest.MonkeyPatch.context() as env:
        # Ray issue 63202: the server forks a driver per connection, and gRPC's fork handlers
        # crash it at its start (most first connections here); the docs say to set this too.
        env.setenv("GRPC_ENABLE_FORK_SUPPORT", "0")
        node.start_ray_client_server()

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    wait_for(listening, timeout=30, what="the Ray Client server")
    return f"ray://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def served(
    client_address: str, extensions: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    """A real `opendream serve --executor ray --ray-address ray://…` (2 workers), from outside the
    cluster as far as Ray knows: every call of its executor goes through the Ray Client."""
    data_dir = tmp_path_factory.mktemp("ray-client-server")
    port = _free_port()
    env = {
        "RAY_AUTH_MODE": "token",  # the head's token authentication (its token file is shared here)
        **os.environ,
        "OPENDREAM_DEVICE": "cpu",
        "OPENDREAM_RAY_WORKERS": "2",
        "OPENDREAM_EXTENSION_DIRS": json.dumps([str(extensions)]),
        "OMP_NUM_THREADS": "1",
    }
    command = ["serve", "--port", str(port), "--data-dir", str(data_dir)]
    command += ["--executor", "ray", "--ray-address", client_address]
    log_path = data_dir / "server.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "opendream.cli", *command], stdout=log, stderr=subprocess.STDOUT, env=env
        )
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    try:

        def healthy() -> bool:
            assert process.poll() is None, log_path.read_text()[-3000:]
            try:
                return api.get("/api/health").status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, timeout=90, what="opendream serve over ray://")
        yield api
    finally:
        api.close()
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_over_ray_client_jobs_end_once_each_with_the_local_executors_results(
    served: httpx.Client, workspace: Workspace, log_dir: Path, tmp_path: Path
) -> None:
    jobs = [add_layer(served, log_dir, model=f"m{i % 2}", seed=i, delay=0.02) for i in range(8)]
    local = Executor(workspace.registry, workspace.data.blobs, workspace.data.db, workspace.runtime)
    local_log = tmp_path / "local-log"  # the local runs' own (the output does not depend on it)
    local_log.mkdir()
    for seed, (project, job_id) in enumerate(jobs):
        layer = wait_idle(served, project, timeout=30)["layers"][0]
        job = served.get(f"/api/jobs/{job_id}").json()
        assert job["state"] == "completed" and job["worker"] in ("worker-0", "worker-1"), job
        params = {"log_dir": str(local_log), "model": f"m{seed % 2}", "seed": seed, "delay": 0.02}
        recipe = recipe_layer(workspace, "ray_test_model", params).layers[0].recipe
        assert layer["blob"] == local.execute(recipe, {}, Hooks(), use_cache=False).outputs[0][1]
    assert sorted(int(seed) for _, _, seed in lines(log_dir, "runs")) == list(range(8))  # once each
    assert len({pid for pid, _ in lines(log_dir, "loads")}) == 2  # on the server's two actors


def test_over_ray_client_an_input_picture_reaches_the_actor(served: httpx.Client) -> None:
    project = new_project(served)["id"]
    upload = served.post(
        f"/api/projects/{project}/uploads", files={"file": ("a.png", png_bytes(colour=(100, 50, 25)))}
    )
    assert upload.status_code == 201, upload.text
    response = served.post(
        f"/api/projects/{project}/layers",
        json={"op": "ray_test_tint", "params": {"amount": 30}, "inputs": {"image": "L1"}},
    )
    assert response.status_code == 201, response.text
    tint = wait_idle(served, project, timeout=30)["layers"][1]
    assert tint["status"] == "ready", tint
    picture = Image.open(io.BytesIO(served.get(f"/api/blobs/{tint['blob']}").content))
    assert picture.convert("RGB").getpixel((0, 0)) == (130, 50, 25)


def test_over_ray_client_events_arrive_in_order(served: httpx.Client, log_dir: Path) -> None:
    project = new_project(served)["id"]
    url = str(served.base_url.copy_with(scheme="ws", path="/api/ws"))

    async def watch() -> list[dict]:
        async with websockets.connect(url) as ws:
            params = {"log_dir": str(log_dir), "model": uuid.uuid4().hex, "steps": 8, "delay": 0.06}
            await asyncio.to_thread(
                served.post,
                f"/api/projects/{project}/layers",
                json={"op": "ray_test_model", "params": params},
            )
            seen: list[dict] = []
            while not any(e["type"] == events.COMPLETED for e in seen):
                seen.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
            return seen

    seen = [e for e in asyncio.run(watch()) if e["type"] in (events.STATUS, events.PROGRESS)]
    assert seen[0]["type"] == events.STATUS and seen[0]["text"].startswith("loading")
    assert [e["step"] for e in seen[1:]] == list(range(1, 9))  # every step (60 ms apart), in order


def test_over_ray_client_cancel_reaches_the_actor(served: httpx.Client, log_dir: Path) -> None:
    cancel_reaches_the_actor(served, log_dir, start_s=20)


def test_over_ray_client_an_actor_killed_mid_job_the_job_completes_once_on_the_other(
    served: httpx.Client, log_dir: Path
) -> None:
    project, job_id = add_layer(served, log_dir, model=uuid.uuid4().hex, steps=20, delay=0.05)
    killed = int(wait_for(lambda: lines(log_dir, "starts"), timeout=20, what="the job to start")[0][0])
    os.kill(killed, signal.SIGKILL)
    wait_idle(served, project, timeout=30)
    assert served.get(f"/api/jobs/{job_id}").json()["state"] == "completed"
    runs = lines(log_dir, "runs")
    assert len(runs) == 1 and int(runs[0][0]) != killed


def test_a_ray_client_address_needs_the_client_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "grpc", None)  # what `import grpc` does where it is missing
    with pytest.raises(RayUnavailable) as caught:
        connect("ray://127.0.0.1:10001")
    assert caught.value.message == MISSING_CLIENT


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--executor", "dask"], "executor (OPENDREAM_EXECUTOR): Input should be 'local' or 'ray'"),
        (["--executor", "ray", "--ray-address", "not an address"], "ray_address (OPENDREAM_RAY_ADDRESS)"),
        (["--executor", "ray", "--ray-address", "ray://10.0.0.1"], "ray_address (OPENDREAM_RAY_ADDRESS)"),
        (
            ["--executor", "ray", "--ray-address", "ray://127.0.0.1:9"],
            "no Ray Client server answers at ray://127.0.0.1:9",
        ),
        (["--executor", "ray", "--ray-address", "127.0.0.1:9"], "no Ray cluster answers at 127.0.0.1:9"),
    ],
)
def test_bad_executor_settings_are_named(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--data-dir", str(tmp_path / "data"), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())  # rich wraps long lines
