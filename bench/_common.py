"""Shared benchmark plumbing: model folders, settings, tables, JSON results."""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CACHE = ROOT / ".opendream-cache" / "bench"
THREADS = int(os.environ.get("BENCH_THREADS", "2"))


def parse_args(description: str, extra: list[tuple[str, dict]] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--tiny", dest="full", action="store_false", help="tiny random models (default; seconds)"
    )
    size.add_argument(
        "--full", dest="full", action="store_true", help="SD 1.5-shaped random weights (minutes)"
    )
    parser.set_defaults(full=False)
    parser.add_argument(
        "--device",
        choices=["auto", "cuda", "mps", "cpu"],
        default="auto",
        help="where the models run (auto: cuda > mps > cpu; float16 on cuda)",
    )
    for name, kwargs in extra or []:
        parser.add_argument(name, **kwargs)
    args = parser.parse_args()
    from opendream.diffusion.device import detect_device

    args.device, args.dtype = detect_device(args.device)
    if getattr(args, "size", 0) is None:
        # full-size models are slow on a CPU; the tiny ones are cheap at the UI's 512
        args.size = 256 if args.full else 512
    return args


def setup_torch() -> None:
    import torch

    torch.set_num_threads(THREADS)


FAMILY_OPTION = (
    "--family",
    {"default": "sd1", "help": "model family: sd1 (default), or a tiny one: sdxl, sd3, flux1, qwen-image …"},
)


def model_folder(full: bool, kind: str = "txt2img", family: str = "sd1") -> Path:
    """The tiny model (built on first use) or the SD 1.5-shaped random-weight model; another
    ``family``'s tiny pipeline (``opendream.diffusion.tiny_families``) when asked for."""
    if family != "sd1":
        if full:
            raise SystemExit("--full has SD 1.5's shapes only; other families are tiny")
        from opendream.diffusion.tiny_families import ensure_tiny_family

        return ensure_tiny_family(family, CACHE / "tiny-families")
    if full:
        from opendream.diffusion.tiny import build_full_size

        return build_full_size(CACHE / f"full-{kind}", kind=kind)  # type: ignore[arg-type]
    from opendream.diffusion.tiny import ensure_tiny_model

    return ensure_tiny_model(kind, CACHE / "tiny")  # type: ignore[arg-type]


def settings(tmp: Path | None = None, device: str = "cpu", backend: str = "torch") -> Any:
    """Settings for a benchmark: torch denoises unless ``backend`` says otherwise, so that the
    other benchmarks' figures stay comparable (``bench.backend`` compares the two)."""
    from opendream.settings import Settings

    return Settings(data_dir=tmp or CACHE / "data", device=device, backend=backend)


def png_bytes(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def write_result(name: str, args: argparse.Namespace, data: dict[str, Any]) -> Path:
    import diffusers
    import torch

    RESULTS.mkdir(parents=True, exist_ok=True)
    family = getattr(args, "family", "sd1")
    suffix = "" if family == "sd1" else f"-{family}"
    path = RESULTS / f"{name}-{'full' if args.full else 'tiny'}{suffix}.json"
    payload = {
        "benchmark": name,
        "models": "full" if args.full else "tiny",
        "family": family,
        "device": args.device,
        "dtype": args.dtype,
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "diffusers": diffusers.__version__,
            "threads": THREADS,
            "cpus": os.cpu_count(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **data,
    }
    path.write_text(json.dumps(payload, indent=2))
    return path


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(device: str, *options: str) -> Iterator[str]:
    """A real ``opendream serve`` (with ``options``, e.g. ``--tiny-models``) on a free loopback
    port, on a fresh data directory; its base URL once it answers. A server that exits or does
    not answer within two minutes ends the benchmark with the end of its log."""
    import httpx

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "server.log"
        log = log_path.open("wb")
        env = {**os.environ, "OMP_NUM_THREADS": str(THREADS), "OPENDREAM_DEVICE": device}
        command = [sys.executable, "-m", "opendream.cli", "serve", *options, "--port", str(port)]
        server = subprocess.Popen(
            [*command, "--data-dir", str(Path(tmp) / "data")], stdout=log, stderr=subprocess.STDOUT, env=env
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(log_path.read_text()[-3000:]) from None
                time.sleep(0.1)
            yield base
        finally:
            server.terminate()
            server.wait(30)
            log.close()
