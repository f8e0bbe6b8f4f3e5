"""Overhead: a raw diffusers pipeline call vs Opendream's engine running the same ``dream`` recipe
(cache bypassed: validation, Context, op call, PNG encoding, blob store, project update).

Same pipeline weights (from the model manager), same seed, same scheduler: the outputs must be
identical pixels. Reports the median of ``--repeats`` alternating runs and the ratio.
``--family`` runs it on another family's tiny pipeline (the class diffusers' AutoPipeline maps)."""

from __future__ import annotations

from bench._common import (
    FAMILY_OPTION,
    median,
    model_folder,
    parse_args,
    settings,
    setup_torch,
    table,
    timed,
    write_result,
)


def main() -> None:
    args = parse_args(
        __doc__ or "",
        [
            ("--repeats", {"type": int, "default": None, "help": "timed runs per mode"}),
            ("--steps", {"type": int, "default": None}),
            ("--size", {"type": int, "default": None, "help": "pixels (default 256 full, 512 tiny)"}),
            FAMILY_OPTION,
        ],
    )
    setup_torch()
    import tempfile
    from pathlib import Path

    import torch

    import opendream.diffusion.ops  # noqa: F401
    from opendream.core.project import Project
    from opendream.core.registry import REGISTRY
    from opendream.diffusion.families import family_of_pipeline, traits
    from opendream.diffusion.manager import ModelManager
    from opendream.engine.runtime import make_runtime
    from opendream.engine.workspace import Workspace
    from opendream.pipelines import make_scheduler, takes

    repeats = args.repeats or (2 if args.full else 5)
    steps = args.steps or (4 if args.full else 10)
    folder = model_folder(args.full, family=args.family)
    config = settings(Path(tempfile.mkdtemp(prefix="opendream-overhead-")), args.device)
    manager = ModelManager(config, device=args.device, dtype=args.dtype)
    runtime = make_runtime(config, load_models=False)
    runtime.models = manager
    workspace = Workspace(config, runtime=runtime, extensions=[])
    pipe = manager.get("txt2img", str(folder))
    family = traits(family_of_pipeline(pipe))  # type: ignore[arg-type]
    scheduler = "default" if family.flow else "euler_a"
    params = {
        "prompt": "a lighthouse at dusk",
        "width": args.size,
        "height": args.size,
        "steps": steps,
        "guidance_scale": 7.5,
        "scheduler": scheduler,
        "seed": 1234,
        "model": str(folder),
    }
    # The family's own guidance argument, as a diffusers user would write the call.
    guidance = (
        {"true_cfg_scale": 7.5, "negative_prompt": " "}
        if family.guidance_param == "true_cfg_scale"
        else {"guidance_scale": 7.5}
    )
    if takes(pipe, "max_area"):  # Kontext makes its preferred area unless told the size's
        guidance["max_area"] = args.size * args.size
    project = Project.new("overhead", args.size, args.size)
    layer = project.add_layer(REGISTRY.get("dream"), params, {})

    def raw() -> bytes:
        instance = type(pipe)(
            **{**pipe.components, "scheduler": make_scheduler(scheduler, pipe.scheduler.config)}
        )
        instance.set_progress_bar_config(disable=True)
        image = instance(
            prompt=params["prompt"],
            width=args.size,
            height=args.size,
            num_inference_steps=steps,
            generator=[torch.Generator("cpu").manual_seed(1234)],
            **guidance,
        ).images[0]
        return image.tobytes()

    def via_engine() -> bytes:
        run = workspace.runner.run_layer(project, layer.id, force=True)
        assert run.outcome == "computed", run
        return workspace.data.blobs.get_image(project.layer(layer.id).blob).tobytes()

    raw(), via_engine()  # warm up (allocator, first-call costs)
    raw_times, op_times, outputs = [], [], set()
    for _ in range(repeats):
        t, png = timed(raw)
        raw_times.append(t)
        outputs.add(png)
        t, png = timed(via_engine)
        op_times.append(t)
        outputs.add(png)
    identical = len(outputs) == 1
    # min is the least disturbed by other processes on a shared machine; median shown too
    ratio = min(op_times) / min(raw_times)
    ratio_median = median(op_times) / median(raw_times)
    rows = [
        ["raw diffusers call", median(raw_times), min(raw_times), 1.0, 1.0],
        ["Opendream engine (dream recipe)", median(op_times), min(op_times), ratio_median, ratio],
    ]
    print(
        f"overhead ({'full' if args.full else 'tiny'} {args.family}, {args.size}x{args.size}, {steps} steps, "
        f"{repeats} runs, {args.device} {args.dtype})"
    )
    print(table(["mode", "median s", "min s", "ratio (median)", "ratio (min)"], rows))
    print(
        f"identical pixels: {identical}; target ratio (min) <= 1.03 (full): {'met' if ratio <= 1.03 else 'NOT met'}"
    )
    path = write_result(
        "overhead",
        args,
        {
            "size": args.size,
            "steps": steps,
            "repeats": repeats,
            "raw_s": raw_times,
            "op_s": op_times,
            "ratio_median": ratio_median,
            "ratio_min": ratio,
            "identical_output": identical,
        },
    )
    print(f"wrote {path}")
    if not identical:
        raise SystemExit("outputs differ between the raw call and the engine")


if __name__ == "__main__":
    main()
