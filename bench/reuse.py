"""Reuse: 5 ``dream`` ops in a row, loading the pipeline inside each op (as the original
Opendream did: ``from_pretrained`` per call) vs the model manager (load once, reuse)."""

from __future__ import annotations

from bench._common import model_folder, parse_args, settings, setup_torch, table, timed, write_result


def main() -> None:
    args = parse_args(
        __doc__ or "",
        [
            ("--ops", {"type": int, "default": 5}),
            ("--steps", {"type": int, "default": None}),
            ("--size", {"type": int, "default": None, "help": "pixels (default 256 full, 64 tiny)"}),
        ],
    )
    setup_torch()
    import torch
    from diffusers import StableDiffusionPipeline

    import opendream.diffusion.ops  # noqa: F401
    from opendream import Context
    from opendream.core.registry import REGISTRY
    from opendream.diffusion.manager import ModelManager

    steps = args.steps or (4 if args.full else 10)
    folder = model_folder(args.full)
    config = settings(device=args.device)

    load_times: list[float] = []

    def original_dream(seed: int) -> None:
        # what the original reference.dream did: load, move to the device, generate
        load_s, pipe = timed(
            lambda: StableDiffusionPipeline.from_pretrained(
                str(folder), dtype=getattr(torch, args.dtype), safety_checker=None
            ).to(args.device)
        )
        load_times.append(load_s)
        pipe.set_progress_bar_config(disable=True)
        pipe(
            "a lighthouse at dusk",
            width=args.size,
            height=args.size,
            num_inference_steps=steps,
            generator=[torch.Generator().manual_seed(seed)],
        )

    manager = ModelManager(config, device=args.device, dtype=args.dtype)
    spec = REGISTRY.get("dream")

    def managed_dream(seed: int) -> None:
        params = spec.validate_params(
            {
                "prompt": "a lighthouse at dusk",
                "width": args.size,
                "height": args.size,
                "steps": steps,
                "seed": seed,
                "model": str(folder),
            }
        )
        spec.call(params, {}, Context(op_name="dream", models=manager, settings=config))

    # warm the OS page cache so neither mode pays for the first disk read
    StableDiffusionPipeline.from_pretrained(str(folder), dtype=torch.float32, safety_checker=None)
    # interleaved (original op i, then managed op i) so drifting load on a shared machine hits both
    original_times, managed_times = [], []
    for seed in range(args.ops):
        original_times.append(timed(lambda s=seed: original_dream(s))[0])
        managed_times.append(timed(lambda s=seed: managed_dream(s))[0])
    total_original, total_managed = sum(original_times), sum(managed_times)
    speedup = total_original / total_managed
    mean_load = sum(load_times) / len(load_times)
    rows = [
        [
            "load inside each op (original)",
            total_original,
            original_times[0],
            original_times[-1],
            mean_load,
            1.0,
        ],
        ["model manager", total_managed, managed_times[0], managed_times[-1], 0.0, speedup],
    ]
    print(
        f"reuse ({'full' if args.full else 'tiny'}, {args.ops} dream ops, {args.size}x{args.size}, {steps} steps, "
        f"{args.device} {args.dtype})"
    )
    print(table(["mode", "total s", "first op s", "last op s", "load s per op", "speedup"], rows))
    # With load L and generation G per op, load-per-op can cost at most (L + G) / G times more.
    bound = (mean_load + total_managed / args.ops) / (total_managed / args.ops)
    print(
        f"manager loads: {manager.stats['loads']}; the best any cache can do here: {bound:.2f}x; "
        f"target speedup >= 1.5 (full): {'met' if speedup >= 1.5 else 'NOT met'}"
    )
    path = write_result(
        "reuse",
        args,
        {
            "ops": args.ops,
            "size": args.size,
            "steps": steps,
            "original_s": original_times,
            "original_load_s": load_times,
            "manager_s": managed_times,
            "speedup": speedup,
            "manager_loads": manager.stats["loads"],
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
