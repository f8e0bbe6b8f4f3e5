"""Run by ``test_diffusion_ops``: a real out-of-memory failure, contained in this process.

After a warm-up run, the address space is capped at 128 MB above what is mapped, so four
1024 px images, which need about 1.2 GB more (one needs 0.4 GB: too close to the slack that
freed memory and thread arenas leave under the cap), fail in torch's own allocator (a
``RuntimeError`` on the CPU, not a ``MemoryError``). Prints each layer's outcome and error as
JSON.

Usage: ``python -m tests.out_of_memory_child TINY_MODELS_DIR DATA_DIR``"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

import torch

from opendream.core.project import Project
from opendream.diffusion.manager import ModelManager
from opendream.engine.runtime import Runtime
from opendream.engine.workspace import Workspace
from opendream.settings import Settings

HEADROOM = 128 * 2**20


def mapped_bytes() -> int:
    with open("/proc/self/status") as status:
        line = next(x for x in status if x.startswith("VmSize:"))
    return int(line.split()[1]) * 1024


def main(tiny_dir: Path, data_dir: Path) -> None:
    torch.set_num_threads(1)
    settings = Settings(
        tiny_models=True, tiny_models_dir=tiny_dir, data_dir=data_dir, device="cpu", backend="torch"
    )
    models = ModelManager(settings, device="cpu", dtype="float32")
    runtime = Runtime(settings=settings, device="cpu", dtype="float32", models=models, environment={})
    workspace = Workspace(settings, runtime=runtime)
    dream = workspace.registry.get("dream")
    small = {"prompt": "a lighthouse", "width": 64, "height": 64, "steps": 2}
    warm = Project.new("warm", 64, 64)
    warm.add_layer(dream, small, {})
    workspace.runner.run_pending(warm)  # loads the model and starts torch's threads first

    resource.setrlimit(resource.RLIMIT_AS, (mapped_bytes() + HEADROOM, resource.RLIM_INFINITY))
    project = Project.new("too big", 1024, 1024)
    project.add_layer(dream, {**small, "width": 1024, "height": 1024, "seed": 1, "num_images": 4}, {})
    project.add_layer(dream, {**small, "seed": 2}, {})
    runs = workspace.runner.run_pending(project)
    print(json.dumps([{"outcome": r.outcome, "error": r.error} for r in runs]))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
