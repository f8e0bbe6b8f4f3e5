"""The CPU fast path: OpenVINO vs torch for the same pipeline (issue 18), side by side in one
run on this machine. Rows: the UNet step at --size (batch 2, as classifier-free guidance runs
it); ``dream`` at --size through the engine (20 steps), and with the tiny autoencoder's decode
(``decoder: fast``) on OpenVINO; the first conversion; a second process's start with the model
already converted (the pipeline loaded and its converted parts ready), beside torch's, and
apart the imports a server's warm start does before its first job; a first call at a new
size (shapes are dynamic); the peak RSS of a dream in a fresh process per backend (VmHWM).
Targets (SD 1.5 shapes, 512x512, 2 cores): UNet step >= 2.5x, dream >= 2.5x, with the fast
decode >= 3.5x, second start <= 5 s; RSS reported (target <= 1.2x)."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._common import (
    CACHE,
    ROOT,
    model_folder,
    parse_args,
    settings,
    setup_torch,
    table,
    timed,
    write_result,
)


def _taesd() -> Path:
    """A random-weight tiny autoencoder of taesd's real shapes (its role's model here: offline)."""
    folder = CACHE / "taesd-shaped"
    if not (folder / "config.json").is_file():
        import torch
        from diffusers import AutoencoderTiny

        torch.manual_seed(0)
        AutoencoderTiny().save_pretrained(folder, safe_serialization=True)
    return folder


def _child(kind: str, folder: str, data_dir: str, size: int) -> None:
    """In a fresh process: ``start`` (load with OpenVINO, the model already converted),
    ``start-torch`` (the same with torch, for comparison: both pay the first imports of
    diffusers' pipelines) or a dream with ``torch``/``openvino``; prints its figures as JSON."""
    import time

    setup_torch()
    import opendream.diffusion.ops  # noqa: F401
    from opendream import Context
    from opendream.core.registry import REGISTRY
    from opendream.diffusion.manager import ModelManager

    backend = "openvino" if kind in ("start", "openvino") else "torch"
    starting = kind.startswith("start")
    manager = ModelManager(settings(Path(data_dir), backend=backend), device="cpu", dtype="float32")
    started = time.perf_counter()
    if starting:  # the imports a server's warm start does before its first job, timed apart
        manager.warm_up().join()
    imported = time.perf_counter()
    said: list[str] = []
    manager.get("txt2img", folder, status=said.append)
    ready = time.perf_counter() - started
    if not starting:
        spec = REGISTRY.get("dream")
        params = {"prompt": "a lighthouse", "width": size, "height": size, "model": folder, "steps": 2}
        spec.call(spec.validate_params(params), {}, Context(models=manager, settings=manager.settings))
    peak_kb = int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0])
    print(
        json.dumps(
            {
                "ready_s": ready,
                "imports_s": imported - started,
                "converted": any("optimising" in s for s in said),
                "peak_mb": peak_kb / 1024,
            }
        )
    )


def _in_child(kind: str, folder: Path, data_dir: Path, size: int) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-m", "bench.backend", "--child", kind, str(folder), str(data_dir), str(size)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"the {kind} child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
        return
    args = parse_args(
        __doc__ or "",
        [
            ("--repeats", {"type": int, "default": 3}),
            ("--size", {"type": int, "default": 512, "help": "pixels per side"}),
            ("--steps", {"type": int, "default": 20}),
        ],
    )
    setup_torch()
    import torch

    os.environ["OPENDREAM_TAESD_MODEL"] = str(_taesd())
    import opendream.diffusion.ops  # noqa: F401
    from opendream import Context
    from opendream.core.registry import REGISTRY
    from opendream.diffusion import openvino_backend
    from opendream.diffusion.manager import ModelManager

    folder = model_folder(args.full)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-backend-"))
    # Its converted models take ~4 GB at SD 1.5 shapes: gone with the run, however it ends.
    atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
    managers = {
        backend: ModelManager(settings(data_dir, backend=backend), device="cpu", dtype="float32")
        for backend in ("torch", "openvino")
    }
    slow = managers["torch"].get("txt2img", str(folder))
    conversion_s, fast = timed(lambda: managers["openvino"].get("txt2img", str(folder)))

    # 1. One UNet step, batch 2.
    latent = args.size // 8
    config = slow.unet.config
    sample = torch.randn(2, config.in_channels, latent, latent)
    hidden = torch.randn(2, 77, config.cross_attention_dim)
    with torch.inference_mode():
        fast.unet(sample, torch.tensor(500), hidden)  # the first inference sets up its buffers
        steps = {
            name: [
                timed(lambda p=pipe: p.unet(sample, torch.tensor(500), hidden))[0]
                for _ in range(args.repeats)
            ]
            for name, pipe in (("torch", slow), ("openvino", fast))
        }
        new_size_s = timed(
            lambda: fast.unet(torch.randn(2, config.in_channels, latent, latent * 3 // 2), 500, hidden)
        )[0]

    # 2. Dream through the engine.
    spec = REGISTRY.get("dream")
    base = {
        "prompt": "a lighthouse",
        "width": args.size,
        "height": args.size,
        "model": str(folder),
        "steps": args.steps,
    }

    def dream(backend: str, **more: str) -> float:
        manager = managers[backend]
        return timed(
            lambda: spec.call(
                spec.validate_params({**base, **more}), {}, Context(models=manager, settings=manager.settings)
            )
        )[0]

    dream("openvino", decoder="fast")  # loads the tiny autoencoder once (and warms up)
    dreams = {
        "torch": [dream("torch") for _ in range(args.repeats)],
        "openvino": [dream("openvino") for _ in range(args.repeats)],
        "openvino + fast decode": [dream("openvino", decoder="fast") for _ in range(args.repeats)],
    }
    assert openvino_backend.backend_used() == "openvino"

    # 3. Fresh processes: a second start, and the peak memory of each backend.
    start = _in_child("start", folder, data_dir, args.size)
    torch_start = _in_child("start-torch", folder, data_dir, args.size)
    peaks = {
        backend: _in_child(backend, folder, data_dir, args.size)["peak_mb"]
        for backend in ("torch", "openvino")
    }

    median = statistics.median
    unet_ratio = median(steps["torch"]) / median(steps["openvino"])
    dream_ratio = median(dreams["torch"]) / median(dreams["openvino"])
    fast_ratio = median(dreams["torch"]) / median(dreams["openvino + fast decode"])
    rows = [
        [f"UNet step {args.size}, batch 2: torch", median(steps["torch"]), 1.0],
        [f"UNet step {args.size}, batch 2: OpenVINO", median(steps["openvino"]), unet_ratio],
        [f"dream {args.size}, {args.steps} steps: torch", median(dreams["torch"]), 1.0],
        [f"dream {args.size}, {args.steps} steps: OpenVINO", median(dreams["openvino"]), dream_ratio],
        [
            f"dream {args.size}: OpenVINO + tiny autoencoder",
            median(dreams["openvino + fast decode"]),
            fast_ratio,
        ],
        ["first conversion (load + convert + compile)", conversion_s, ""],
        ["second process: model ready, torch", torch_start["ready_s"], 1.0],
        [
            "second process: model ready, OpenVINO (cached)",
            start["ready_s"],
            start["ready_s"] / torch_start["ready_s"],
        ],
        ["  of which imports (a server's warm start does them): torch", torch_start["imports_s"], 1.0],
        ["  of which imports: OpenVINO", start["imports_s"], start["imports_s"] / torch_start["imports_s"]],
        [
            "  after the imports (a warm server's first job): torch",
            torch_start["ready_s"] - torch_start["imports_s"],
            1.0,
        ],
        [
            "  after the imports: OpenVINO (cached)",
            start["ready_s"] - start["imports_s"],
            (start["ready_s"] - start["imports_s"]) / (torch_start["ready_s"] - torch_start["imports_s"]),
        ],
        [f"first UNet step at a new size ({args.size * 3 // 2}x{args.size})", new_size_s, ""],
        ["peak RSS MB, dream: torch", peaks["torch"], 1.0],
        ["peak RSS MB, dream: OpenVINO", peaks["openvino"], peaks["openvino"] / peaks["torch"]],
    ]
    print(
        f"backend ({'SD 1.5 shapes' if args.full else 'tiny'}, {args.repeats} runs each, cpu, {os.cpu_count()} cpus)"
    )
    print(table(["what", "median s (or MB)", "x torch"], rows))
    targets = {
        "UNet step >= 2.5x": unet_ratio >= 2.5,
        "dream >= 2.5x": dream_ratio >= 2.5,
        "with the fast decode >= 3.5x": fast_ratio >= 3.5,
        "second start <= 5 s": start["ready_s"] <= 5 and not start["converted"],
        "warm server's second start <= 5 s": start["ready_s"] - start["imports_s"] <= 5,
        "RSS <= 1.2x": peaks["openvino"] / peaks["torch"] <= 1.2,
    }
    print("; ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in targets.items()))
    path = write_result(
        "backend",
        args,
        {
            "unet_step_s": steps,
            "dream_s": dreams,
            "conversion_s": conversion_s,
            "second_start": start,
            "second_start_torch": torch_start,
            "new_size_step_s": new_size_s,
            "peak_mb": peaks,
            "targets": targets,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
