"""Tiny models at real sizes: every op that runs a tiny model (``--tiny-models``), through the
real engine, at the UI's default 512x512 with 20 steps; ``dream`` also at 1024x1024; and how
long a cancel takes to stop a 512x512 ``dream``.

The tiny models keep SD's shapes where cost scales with the image (a VAE that downsamples 8x,
attention only at the UNet's lowest level), so they are fast at the sizes the app proposes.
Targets on 2 cores: ``dream`` 512x512 <= 5 s, 1024x1024 <= 20 s; every op at 512 <= 5 s."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench._common import CACHE, median, parse_args, setup_torch, table, timed, write_result

SIZE, LARGE = 512, 1024
TARGET_S = {SIZE: 5.0, LARGE: 20.0}
CANCEL_TARGET_S = 1.0
CANCEL_AFTER_STEP = 3
PROMPT = "a lighthouse at dusk"
# Random weights score every segment at random: let every candidate through.
SAM_OPEN = {"pred_iou_thresh": 0.0, "stability_score_thresh": 0.0, "min_area": 0.0}


def model_layers(workspace: Any, project: Any, steps: int, dream_only: bool) -> list[tuple[str, str]]:
    """Add every model-running op (and the layers they need) to ``project``, or only ``dream``;
    (label, layer id) of those to time."""
    from PIL import Image

    from opendream.core.recipe import asset_ref

    def add(op: str, params: dict, inputs: dict | None = None) -> str:
        return project.add_layer(workspace.registry.get(op), params, inputs or {}).id

    side = project.width
    mask = Image.new("L", (side, side), 0)
    mask.paste(255, (side // 4, side // 4, 3 * side // 4, 3 * side // 4))
    common = {"prompt": PROMPT, "steps": steps}
    dream = add("dream", {**common, "seed": 1})  # omitted size: the canvas size
    if dream_only:
        return [("dream", dream)]
    painted = add("paint_mask", {"asset": asset_ref(workspace.data.blobs.put_image(mask))})
    edges = add("canny_edges", {}, {"image": dream})
    return [
        ("dream", dream),
        ("img2img (strength 0.75)", add("img2img", {**common, "seed": 2}, {"image_layer": dream})),
        (
            "mask_and_inpaint",
            add("mask_and_inpaint", {**common, "seed": 3}, {"mask_layer": painted, "image_layer": dream}),
        ),
        (
            "instruct_pix2pix",
            add("instruct_pix2pix", {"instruction": "make it snow", "steps": steps}, {"image": dream}),
        ),
        (
            "controlnet_canny",
            add("controlnet_canny", {**common, "image_is_edge_map": True}, {"image": edges}),
        ),
        # noise holds no person to detect: the dream stands in for a skeleton
        (
            "controlnet_openpose",
            add("controlnet_openpose", {**common, "image_is_pose": True}, {"image": dream}),
        ),
        ("sam (automatic, 16x16 prompts)", add("sam", SAM_OPEN, {"image": dream})),
    ]


def _run(workspace: Any, project: Any, layer_id: str, **kwargs: Any) -> Any:
    run = workspace.runner.run_layer(project, layer_id, force=True, **kwargs)
    if run.outcome not in ("computed", "cancelled"):
        raise SystemExit(f"{run.op} on {layer_id} ended {run.outcome}: {run.error}")
    return run


def _warm_up(workspace: Any, project: Any) -> None:
    """Run every layer once: builds and loads the models, and makes the inputs."""
    workspace.runner.run_pending(project)
    failed = [f"{x.id} ({x.recipe.op}): {x.run.error}" for x in project.layers if x.status != "ready"]
    if failed:
        raise SystemExit("warm-up failed: " + "; ".join(failed))


def _times(workspace: Any, project: Any, layer_id: str, repeats: int) -> list[float]:
    return [timed(lambda: _run(workspace, project, layer_id))[0] for _ in range(repeats)]


def _row(label: str, side: int, times: list[float], target: float) -> list[Any]:
    met = "met" if min(times) <= target else "NOT met"
    return [label, f"{side}x{side}", median(times), min(times), target, met]


def _cancel_latency(workspace: Any, project: Any, layer_id: str) -> tuple[float, int]:
    """Seconds from a cancel to the run returning, and the last step reported. The cancel comes
    from another thread half a step after step ``CANCEL_AFTER_STEP``, as a click on Cancel
    lands in the middle of a step."""
    cancel = threading.Event()
    sent: list[float] = []
    steps: list[tuple[int, float]] = []

    def press_cancel() -> None:
        sent.append(time.perf_counter())
        cancel.set()

    def on_event(event: Any) -> None:
        if event.type == "job.progress":
            steps.append((event.data["step"], time.perf_counter()))
            if event.data["step"] == CANCEL_AFTER_STEP:
                step_s = (steps[-1][1] - steps[0][1]) / max(len(steps) - 1, 1)
                threading.Timer(step_s / 2, press_cancel).start()

    run = _run(workspace, project, layer_id, cancel_event=cancel, on_event=on_event)
    if run.outcome != "cancelled":
        raise SystemExit(f"the cancelled dream ended {run.outcome}")
    return time.perf_counter() - sent[0], steps[-1][0]


def main() -> None:
    args = parse_args(
        __doc__ or "",
        [
            ("--repeats", {"type": int, "default": 2, "help": "timed runs per op (after a warm-up)"}),
            ("--steps", {"type": int, "default": 20}),
        ],
    )
    if args.full:
        raise SystemExit("this benchmark measures the tiny models; --full does not apply")
    setup_torch()
    from opendream.core.project import Project
    from opendream.engine.workspace import Workspace
    from opendream.settings import Settings

    rows: list[list[Any]] = []
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        config = Settings(
            data_dir=Path(tmp), tiny_models=True, tiny_models_dir=CACHE / "tiny", device=args.device
        )
        workspace = Workspace(config)
        try:
            for side in (SIZE, LARGE):
                project = Project.new(f"tiny {side}", side, side)
                # the target at 1024 is dream's
                layers = model_layers(workspace, project, args.steps, dream_only=side == LARGE)
                _warm_up(workspace, project)
                for label, layer in layers:
                    times = _times(workspace, project, layer, args.repeats)
                    rows.append(_row(label, side, times, TARGET_S[side]))
                    results[f"{label} {side}"] = {"s": times, "target_s": TARGET_S[side]}
                if side == SIZE:
                    latency, last_step = _cancel_latency(workspace, project, layers[0][1])
                    rows.append(
                        _row(
                            f"cancel dream (after step {CANCEL_AFTER_STEP})", side, [latency], CANCEL_TARGET_S
                        )
                    )
                    results["cancel 512"] = {
                        "s": [latency],
                        "last_step": last_step,
                        "target_s": CANCEL_TARGET_S,
                    }
        finally:
            workspace.close()

    print(
        f"tiny models at real sizes ({args.steps} steps, {args.device} {args.dtype}, min of {args.repeats} warm runs)"
    )
    print(table(["op", "size", "median s", "min s", "target s", ""], rows))
    path = write_result("tiny", args, {"steps": args.steps, "repeats": args.repeats, "results": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
