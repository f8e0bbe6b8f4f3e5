"""API latency under load: p50/p99 of ``GET /api/projects/{id}`` with 20 concurrent clients,
idle and while a generation runs in the server's worker thread (the original Opendream ran
the model inside its request handler, so every request waited for the generation).

Runs a real ``opendream serve`` process on 127.0.0.1. Target: p99 <= 50 ms during generation."""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx

from bench._common import model_folder, parse_args, serving, table, write_result

CLIENTS = 20
# Each client waits this long between requests, as a polling UI does. Without a pause, 20
# closed-loop clients saturate the CPU and measure throughput (latency = clients / rate).
INTERVAL = 0.05


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _hammer(base: str, path: str, until: asyncio.Event) -> list[float]:
    """Every client loops GET ``path`` (pausing ``INTERVAL``) until ``until`` is set; ms."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def one() -> None:
            while not until.is_set():
                start = time.perf_counter()
                response = await client.get(path)
                latencies.append((time.perf_counter() - start) * 1000)
                response.raise_for_status()
                await asyncio.sleep(INTERVAL)

        await asyncio.gather(*(one() for _ in range(CLIENTS)))
    return latencies


async def _measure_idle(base: str, path: str, seconds: float) -> list[float]:
    stop = asyncio.Event()
    task = asyncio.create_task(_hammer(base, path, stop))
    await asyncio.sleep(seconds)
    stop.set()
    return await task


async def _measure_during_job(base: str, path: str, job_id: str) -> tuple[list[float], float]:
    """Latencies while the job is running; and how long it ran."""
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=base, timeout=30) as watcher:
        while (await watcher.get(f"/api/jobs/{job_id}")).json()["state"] == "queued":
            await asyncio.sleep(0.01)
        started = time.perf_counter()
        task = asyncio.create_task(_hammer(base, path, stop))
        while (state := (await watcher.get(f"/api/jobs/{job_id}")).json()["state"]) == "running":
            await asyncio.sleep(0.05)
        stop.set()
        ran = time.perf_counter() - started
    if state != "completed":
        raise SystemExit(f"the generation ended {state}; see the server log")
    return await task, ran


def _row(name: str, latencies: list[float]) -> list:
    return [
        name,
        len(latencies),
        statistics.median(latencies),
        _percentile(latencies, 0.99),
        max(latencies),
    ]


def main() -> None:
    args = parse_args(
        __doc__ or "",
        [("--steps", {"type": int, "default": None}), ("--size", {"type": int, "default": None})],
    )
    steps = args.steps or (4 if args.full else 10)
    model = str(model_folder(args.full, "txt2img"))
    with serving(args.device) as base:
        api = httpx.Client(base_url=base, timeout=600)
        pid = api.post("/api/projects", json={"name": "latency", "width": args.size, "height": args.size})
        pid = pid.json()["id"]
        path = f"/api/projects/{pid}"
        params = {"prompt": "a lighthouse", "steps": steps, "width": args.size, "height": args.size}
        # Warm up: load the model once so the measured run is the generation itself.
        warm = api.post(
            f"{path}/layers", json={"op": "dream", "params": {**params, "steps": 1, "model": model}}
        )
        warm.raise_for_status()
        while api.get(f"/api/jobs/{warm.json()['jobs'][0]['id']}").json()["state"] in (
            "queued",
            "running",
        ):
            time.sleep(0.05)
        idle = asyncio.run(_measure_idle(base, path, 3.0))
        job = api.post(
            f"{path}/layers", json={"op": "dream", "params": {**params, "seed": 7, "model": model}}
        )
        job.raise_for_status()
        busy, ran = asyncio.run(_measure_during_job(base, path, job.json()["jobs"][0]["id"]))

    rows = [_row("idle", idle), _row("during generation", busy)]
    print(
        f"GET /api/projects/{{id}}, {CLIENTS} concurrent clients each pausing {INTERVAL * 1000:.0f} ms; "
        f"generation: {steps} steps at {args.size}px, {ran:.1f} s"
    )
    print(table(["phase", "requests", "p50 ms", "p99 ms", "max ms"], rows))
    target = _percentile(busy, 0.99) <= 50
    print(f"p99 during generation {'meets' if target else 'misses'} the 50 ms target")
    path = write_result(
        "latency",
        args,
        {
            "clients": CLIENTS,
            "interval_s": INTERVAL,
            "steps": steps,
            "size": args.size,
            "generation_seconds": round(ran, 3),
            "phases": {
                name: {
                    "requests": n,
                    "p50_ms": round(p50, 2),
                    "p99_ms": round(p99, 2),
                    "max_ms": round(top, 2),
                }
                for name, n, p50, p99, top in rows
            },
            "p99_target_met": target,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
