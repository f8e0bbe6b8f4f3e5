"""A server's warm start: the diffusion libraries a first load needs are imported on a thread
while the server waits for its first job, and loads wait for that thread instead of importing
beside it."""

from __future__ import annotations

import gc
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opendream.diffusion.manager import ModelManager
from opendream.engine.runtime import make_runtime
from opendream.engine.workspace import Workspace
from opendream.server.app import create_app
from opendream.settings import Settings
from tests.server_fixtures import BASE, wait_for

ROOT = Path(__file__).resolve().parents[1]
MANAGER_LOG = "opendream.diffusion.manager"

# A fresh interpreter: nothing of diffusers is imported before the warm-up runs.
FRESH = """
import gc, json, sys
from opendream.diffusion.manager import ModelManager
from opendream.settings import Settings

manager = ModelManager(Settings(data_dir=sys.argv[1], tiny_models=True, tiny_models_dir=sys.argv[2]),
                       device="cpu", dtype="float32")
before = "diffusers" in sys.modules
manager.warm_up().join()
assert gc.get_freeze_count() > 0, "what was imported is frozen for the collector"
imported = "diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion" in sys.modules
pipe = manager.get("txt2img")
print(json.dumps({"before": before, "imported": imported, "pipeline": type(pipe).__name__}))
"""


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    """A warm-up freezes what the process holds for the collector (``gc.freeze``): the other
    tests' objects are given back to it."""
    yield
    gc.unfreeze()


def test_a_warm_up_in_a_fresh_process_imports_what_the_first_load_needs(
    tiny_dir: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-c", FRESH, str(tmp_path / "data"), str(tiny_dir)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"before": False, "imported": True, "pipeline": "StableDiffusionPipeline"}


def test_loads_wait_for_the_warm_up_and_a_failed_one_changes_nothing(
    tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    manager = ModelManager(tiny_settings, device="cpu", dtype="float32")
    caplog.set_level(logging.INFO, logger=MANAGER_LOG)
    manager.warm_up().join()
    assert "diffusion libraries imported in" in caplog.text

    # The imports failing (a broken install, say) is logged; the load then says what it meets.
    import opendream.diffusion.manager as manager_module

    real = manager_module.task_pipelines
    monkeypatch.setattr(
        manager_module, "task_pipelines", lambda task: (_ for _ in ()).throw(ImportError("no"))
    )
    manager.warm_up().join()
    assert "importing the diffusion libraries failed: no" in caplog.text
    monkeypatch.setattr(manager_module, "task_pipelines", real)
    assert type(manager.get("txt2img")).__name__ == "StableDiffusionPipeline"

    manager._warm.clear()  # a warm-up still importing
    loading = threading.Thread(target=manager.get, args=("inpaint",))
    loading.start()
    loading.join(1.0)
    assert loading.is_alive(), "a load waits for the warm-up's imports"
    manager._warm.set()
    loading.join(120)
    assert not loading.is_alive()


@pytest.mark.parametrize("warm_start", [True, False])
def test_the_server_warms_up_at_start_unless_told_not_to(
    tiny_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture, warm_start: bool
) -> None:
    settings = tiny_settings.model_copy(update={"data_dir": tmp_path / "data", "warm_start": warm_start})
    workspace = Workspace(settings, runtime=make_runtime(settings), extensions=[])
    models = workspace.runtime.models
    caplog.set_level(logging.INFO, logger=MANAGER_LOG)
    with TestClient(create_app(settings, workspace=workspace, start_workers=False), base_url=BASE) as client:
        assert client.get("/api/health").status_code == 200
        if warm_start:
            wait_for(lambda: "diffusion libraries imported in" in caplog.text, what="the warm-up")
        else:
            assert "diffusion libraries imported" not in caplog.text
        assert models._warm.is_set()
    workspace.close()
