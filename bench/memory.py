"""Memory: ``dream`` + ``img2img`` + ``mask_and_inpaint`` on one base model, with the manager's
shared components vs three separate loads, against one pipeline alone. Peak RSS of a fresh
subprocess per mode (``ru_maxrss``), and peak CUDA memory when the models run on a GPU.
``--family`` runs it on another family's tiny pipeline, with the tasks that family has."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

from bench._common import FAMILY_OPTION, model_folder, parse_args, settings, setup_torch, table, write_result

MODES = ("one pipeline", "shared (manager)", "separate loads")


def family_tasks(folder: str) -> list[str]:
    """The tasks of txt2img, img2img and inpaint the folder's family has."""
    from opendream.diffusion.families import detect_family, task_pipelines, traits
    from opendream.diffusion.model_sources import Source

    key = traits(detect_family(Source("folder", folder))).key  # type: ignore[arg-type]
    return [t for t in ("txt2img", "img2img", "inpaint") if key in task_pipelines(t)]  # type: ignore[arg-type]


def _child(mode: str, folder: str, size: int, steps: int, device: str, dtype: str) -> None:
    setup_torch()
    import torch
    from PIL import Image

    import opendream.diffusion.ops  # noqa: F401
    from opendream import Context, ImageLayer, MaskLayer
    from opendream.core.registry import REGISTRY
    from opendream.diffusion.manager import ModelManager
    from opendream.diffusion.model_cache import module_bytes

    image = Image.new("RGB", (size, size), (90, 120, 200))
    mask = Image.new("L", (size, size), 0)
    mask.paste(255, (size // 4, size // 4, size // 2, size // 2))
    prompt_args = {"prompt": "a boat", "steps": steps, "model": folder}
    weights = 0
    tasks = family_tasks(folder)
    if mode == "separate loads":
        import inspect

        from opendream.diffusion.families import detect_family, task_pipelines, traits
        from opendream.diffusion.model_sources import Source

        key = traits(detect_family(Source("folder", folder))).key  # type: ignore[arg-type]
        inputs = {
            "txt2img": {},
            "img2img": {"image": image, "strength": 0.75},
            "inpaint": {"image": image, "mask_image": mask},
        }
        pipes = []
        for task in tasks:
            cls = task_pipelines(task)[key]  # type: ignore[arg-type]
            pipe = cls.from_pretrained(folder, dtype=getattr(torch, dtype)).to(device)
            pipe.set_progress_bar_config(disable=True)
            accepted = inspect.signature(cls.__call__).parameters
            extra = {
                k: v for k, v in {"width": size, "height": size, **inputs[task]}.items() if k in accepted
            }
            pipe(
                prompt="a boat",
                num_inference_steps=steps,
                generator=torch.Generator().manual_seed(0),
                **extra,
            )
            pipes.append(pipe)  # an app caching one pipeline per op keeps all three
        weights = module_bytes([m for p in pipes for m in p.components.values()])
    else:
        manager = ModelManager(settings(device=device), device=device, dtype=dtype)
        ctx = Context(models=manager, settings=manager.settings)
        calls = [("dream", {**prompt_args, "width": size, "height": size}, {})]
        if mode == "shared (manager)":
            image_layers = {"image_layer": ImageLayer(image)}
            calls += [("img2img", prompt_args, image_layers)] if "img2img" in tasks else []
            inpaint_layers = {"mask_layer": MaskLayer(mask), **image_layers}
            calls += [("mask_and_inpaint", prompt_args, inpaint_layers)] if "inpaint" in tasks else []
        for name, params, layers in calls:
            spec = REGISTRY.get(name)
            spec.call(spec.validate_params(params), layers, ctx)
        weights = manager.used_bytes
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    vram = torch.cuda.max_memory_allocated() if device == "cuda" else None
    print(json.dumps({"mode": mode, "peak_rss": peak, "peak_vram": vram, "weights": weights}))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7])
        return
    args = parse_args(
        __doc__ or "",
        [
            ("--size", {"type": int, "default": None, "help": "pixels (default 256 full, 512 tiny)"}),
            ("--steps", {"type": int, "default": 2}),
            FAMILY_OPTION,
        ],
    )
    folder = model_folder(args.full, family=args.family)
    results = []
    for mode in MODES:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.memory",
                "--child",
                mode,
                str(folder),
                str(args.size),
                str(args.steps),
                args.device,
                args.dtype,
            ],
            check=True,
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    # on a GPU the weights live in VRAM, so that is the peak that counts
    measure = "peak_vram" if args.device == "cuda" else "peak_rss"
    base = results[0][measure]
    rows = [
        [
            r["mode"],
            r["peak_rss"] / 2**20,
            (r["peak_vram"] or 0) / 2**20,
            r["weights"] / 2**20,
            r[measure] / base,
        ]
        for r in results
    ]
    print(
        f"memory ({'full' if args.full else 'tiny'} {args.family}, {args.size}x{args.size}, {args.steps} steps, "
        f"{args.device} {args.dtype}; peak per subprocess)"
    )
    print(table(["mode", "peak RSS MB", "peak VRAM MB", "weights MB", "x one pipeline"], rows))
    shared_ratio = results[1][measure] / base
    print(
        f"target shared <= 1.3x one pipeline: {'met' if shared_ratio <= 1.3 else 'NOT met'} ({shared_ratio:.2f}x)"
    )
    path = write_result(
        "memory",
        args,
        {"size": args.size, "steps": args.steps, "results": results, "shared_ratio": shared_ratio},
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
