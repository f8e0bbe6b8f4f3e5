"""Against a real ``opendream serve`` process on 127.0.0.1: events over a real WebSocket, the
Host check through uvicorn, and durability when the process is killed with SIGKILL mid-job."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
import pytest
import websockets

from opendream.storage.jobs import INTERRUPTED
from tests.server_fixtures import png_bytes

EXTENSION = """
import time
import opendream
from opendream import Context, ImageLayer
from PIL import Image


@opendream.op(title="Slow (live test)")
def live_slow(steps: int = 100, delay: float = 0.02, seed: int = 0, ctx: Context = None) -> ImageLayer:
    for i in range(steps):
        ctx.check_cancelled()
        time.sleep(delay)
        ctx.progress(i + 1, steps)
    return ImageLayer(image=Image.new("RGB", (8, 8), (seed % 256, 0, 0)))
"""


# A lighter launcher for the crash rounds: the same app, without the model manager (whose
# torch import would dominate start-up and is not what this test is about).
LAUNCHER = """
import sys
from pathlib import Path

import uvicorn

from opendream.engine.runtime import make_runtime
from opendream.engine.workspace import Workspace
from opendream.server.app import create_app
from opendream.settings import Settings

settings = Settings(data_dir=Path(sys.argv[1]), device="cpu")
workspace = Workspace(settings, runtime=make_runtime(settings, load_models=False))
uvicorn.run(create_app(settings, workspace=workspace), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "extensions").mkdir()
    (tmp_path / "extensions" / "live_ext.py").write_text(EXTENSION)
    return tmp_path


@contextmanager
def serve(data_dir: Path, port: int, *, cli: bool = True) -> Iterator[subprocess.Popen]:
    """``opendream serve`` (or the lighter launcher) on ``port``, once it answers."""
    log = (data_dir / "server.log").open("ab")
    command = (
        ["-m", "opendream.cli", "serve", "--port", str(port), "--data-dir", str(data_dir)]
        if cli
        else ["-c", LAUNCHER, str(data_dir), str(port)]
    )
    process = subprocess.Popen(
        [sys.executable, *command],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((data_dir / "server.log").read_text()[-3000:])
            time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def _wait(predicate: Callable[[], object], timeout: float = 20.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_real_server_streams_events_and_checks_host(data_dir: Path) -> None:
    port = _free_port()
    with serve(data_dir, port):
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        pid = api.post("/api/projects", json={"name": "live"}).json()["id"]

        async def watch() -> list[dict]:
            async with websockets.connect(f"ws://127.0.0.1:{port}/api/ws") as ws:
                job = await asyncio.to_thread(
                    lambda: api.post(
                        f"/api/projects/{pid}/layers", json={"op": "live_slow", "params": {"steps": 5}}
                    ).json()["jobs"][0]
                )
                seen = []
                while not any(e["type"] == "job.completed" for e in seen):
                    seen.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
                assert job["id"] == seen[-1]["job"]["id"]
                return seen

        events = asyncio.run(watch())
        assert [e["step"] for e in events if e["type"] == "job.progress"] == [1, 2, 3, 4, 5]
        assert api.get("/api/health", headers={"host": "evil.example"}).status_code == 403

        async def refused() -> None:
            with pytest.raises(websockets.exceptions.InvalidStatus):
                async with websockets.connect(
                    f"ws://127.0.0.1:{port}/api/ws", additional_headers={"Origin": "http://evil.example"}
                ):
                    pass

        asyncio.run(refused())


def _integrity(path: Path) -> str:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def test_kill_9_mid_job_loses_nothing_acknowledged(data_dir: Path) -> None:
    port = _free_port()
    ready: dict[tuple[str, str], str] = {}  # (project, layer) -> blob, seen ready before a kill
    killed_jobs: list[str] = []
    for round_ in range(10):
        with serve(data_dir, port, cli=False) as process:
            api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
            for job_id in killed_jobs:
                job = api.get(f"/api/jobs/{job_id}").json()
                assert (job["state"], job["error"]) == ("failed", INTERRUPTED), job
            for (pid, layer_id), blob in ready.items():
                layers = {x["id"]: x for x in api.get(f"/api/projects/{pid}").json()["layers"]}
                assert layers[layer_id]["status"] == "ready" and layers[layer_id]["blob"] == blob
                data = api.get(f"/api/blobs/{blob}").content
                assert hashlib.sha256(data).hexdigest() == blob
            pid = api.post("/api/projects", json={"name": f"round {round_}"}).json()["id"]
            api.post(
                f"/api/projects/{pid}/uploads", files={"file": ("a.png", png_bytes(colour=(round_, 9, 9)))}
            )
            slow = api.post(
                f"/api/projects/{pid}/layers",
                json={"op": "live_slow", "params": {"steps": 500, "delay": 0.01, "seed": round_}},
            ).json()["jobs"][0]
            job_url = f"/api/jobs/{slow['id']}"
            _wait(lambda api=api, job_url=job_url: api.get(job_url).json()["state"] == "running")
            for layer in api.get(f"/api/projects/{pid}").json()["layers"]:
                if layer["status"] == "ready":
                    ready[(pid, layer["id"])] = layer["blob"]
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            killed_jobs = [slow["id"]]
        assert _integrity(data_dir / "opendream.db") == "ok"
    assert len(ready) == 10
    with serve(data_dir, port, cli=False):
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        assert api.get(f"/api/jobs/{killed_jobs[0]}").json()["state"] == "failed"
        stale = [p for p in api.get("/api/projects").json() if p["name"].startswith("round")]
        for summary in stale:
            statuses = [x["status"] for x in api.get(f"/api/projects/{summary['id']}").json()["layers"]]
            assert statuses == ["ready", "stale"], statuses
