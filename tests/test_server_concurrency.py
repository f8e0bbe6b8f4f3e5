"""Eight clients submitting and cancelling at once, two workers: every job ends in exactly one
terminal state, none is lost, none runs twice, and no project write is lost."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Annotated

from fastapi.testclient import TestClient
from PIL import Image

import opendream
from opendream import Context, Field, ImageLayer
from tests.server_fixtures import BASE, SERVER_OPS, make_app, new_project, wait_for

RUNS: Counter[int] = Counter()
_RUNS_LOCK = threading.Lock()
#: The server tests' ops and this module's.
CONCURRENCY_OPS = SERVER_OPS.copy()


@opendream.op(registry=CONCURRENCY_OPS, title="Counted (test)", category="test")
def server_test_counted(
    seed: Annotated[int, Field(ge=0)] = 0, steps: Annotated[int, Field(ge=1, le=100)] = 3, ctx: Context = None
) -> ImageLayer:
    """Records each run of each seed."""
    with _RUNS_LOCK:
        RUNS[seed] += 1
    for step in range(steps):
        ctx.check_cancelled()
        time.sleep(0.005)
        ctx.progress(step + 1, steps)
    return ImageLayer(image=Image.new("RGB", (4, 4), (seed % 256, seed // 256 % 256, 0)))


def test_eight_clients_submit_and_cancel(tmp_path: Path) -> None:
    app = make_app(tmp_path, workers=2, registry=CONCURRENCY_OPS)
    submitted: list[tuple[str, str, int]] = []  # (job, project, seed)
    errors: list[BaseException] = []
    lock = threading.Lock()
    with TestClient(app, base_url=BASE) as client:
        projects = [new_project(client, name=f"p{i}")["id"] for i in range(4)]
        barrier = threading.Barrier(8)

        def worker(index: int) -> None:
            rng = random.Random(index)
            try:
                barrier.wait()
                for n in range(6):
                    pid = projects[rng.randrange(len(projects))]
                    seed = index * 100 + n
                    body = {"op": "server_test_counted", "params": {"seed": seed, "steps": rng.randint(1, 6)}}
                    response = client.post(f"/api/projects/{pid}/layers", json=body)
                    assert response.status_code == 201, response.text
                    job = response.json()["jobs"][0]
                    with lock:
                        submitted.append((job["id"], pid, seed))
                    if rng.random() < 0.4:
                        assert client.post(f"/api/jobs/{job['id']}/cancel").status_code == 200
                    if rng.random() < 0.3:
                        rename = client.patch(f"/api/projects/{pid}", json={"name": f"renamed {index}.{n}"})
                        assert rename.status_code == 200, rename.text
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors

        def all_done() -> list[dict] | None:
            jobs = client.get("/api/jobs", params={"limit": 1000}).json()
            return None if any(j["state"] in ("queued", "running") for j in jobs) else jobs

        jobs = wait_for(all_done, 60, "every job to finish")
        by_id = {j["id"]: j for j in jobs}
        assert set(by_id) == {job for job, _, _ in submitted}  # none lost, none invented
        assert {j["state"] for j in jobs} <= {"completed", "cancelled"}
        assert all(count == 1 for count in RUNS.values()), RUNS  # none run twice
        for job_id, pid, seed in submitted:
            job = by_id[job_id]
            layer = next(
                x for x in client.get(f"/api/projects/{pid}").json()["layers"] if x["id"] == job["layer_id"]
            )
            expected = "ready" if job["state"] == "completed" else "cancelled"
            assert layer["status"] == expected, (job, layer)
            assert layer["recipe"]["params"]["seed"] == seed
            if job["state"] == "completed":
                assert RUNS[seed] == 1 and job["outcome"] == "computed"
        # Every layer added is there: no write was clobbered by a concurrent one.
        total = sum(len(client.get(f"/api/projects/{p}").json()["layers"]) for p in projects)
        assert total == len(submitted)
    app.state.opendream.workspace.close()
