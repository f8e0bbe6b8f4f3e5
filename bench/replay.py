"""Replay: a 10-layer workflow run cold (fresh data dir), warm (every result cached) and after
editing layer 3 (only it and its descendants re-run). Runs through the real engine."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench._common import model_folder, parse_args, settings, setup_torch, table, timed, write_result


def build_project(workspace, txt2img: str, inpaint: str, size: int, steps: int):
    from PIL import Image

    from opendream.core.project import Project
    from opendream.core.recipe import asset_ref
    from opendream.core.registry import REGISTRY

    def add(op: str, params: dict, inputs: dict | None = None) -> str:
        return project.add_layer(REGISTRY.get(op), params, inputs or {}).id

    mask = Image.new("L", (size, size), 0)
    mask.paste(255, (size // 4, size // 4, 3 * size // 4, 3 * size // 4))
    common = {"steps": steps, "prompt": "a lighthouse at dusk"}
    project = Project.new("replay bench", size, size)
    dream = add("dream", {**common, "width": size, "height": size, "seed": 1, "model": txt2img})
    first = add("img2img", {**common, "strength": 0.6, "seed": 2, "model": txt2img}, {"image_layer": dream})
    third = add("img2img", {**common, "strength": 0.5, "seed": 3, "model": txt2img}, {"image_layer": first})
    painted = add("paint_mask", {"asset": asset_ref(workspace.data.blobs.put_image(mask))})
    inpainted = add(
        "mask_and_inpaint",
        {**common, "seed": 5, "model": inpaint},
        {"mask_layer": painted, "image_layer": third},
    )
    feathered = add("feather_mask", {"radius": 6}, {"mask": painted})
    again = add(
        "mask_and_inpaint",
        {**common, "seed": 7, "model": inpaint},
        {"mask_layer": feathered, "image_layer": inpainted},
    )
    final = add("img2img", {**common, "strength": 0.3, "seed": 8, "model": txt2img}, {"image_layer": again})
    add("invert_mask", {}, {"mask": feathered})
    add("flatten", {}, {"layers": [dream, final]})
    return project, third


def main() -> None:
    args = parse_args(
        __doc__ or "",
        [("--steps", {"type": int, "default": None}), ("--size", {"type": int, "default": None})],
    )
    setup_torch()
    from opendream.core.project import Project
    from opendream.core.registry import REGISTRY
    from opendream.engine.workspace import Workspace

    size = args.size or (256 if args.full else 64)
    steps = args.steps or (4 if args.full else 8)
    txt2img, inpaint = str(model_folder(args.full, "txt2img")), str(model_folder(args.full, "inpaint"))
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(settings(Path(tmp), args.device))
        project, third = build_project(workspace, txt2img, inpaint, size, steps)
        snapshot = project.to_dict()

        cold_s, cold = timed(lambda: workspace.runner.run_pending(project))
        warm_project = Project.from_dict(snapshot)
        warm_s, warm = timed(lambda: workspace.runner.run_pending(warm_project))
        project.edit_recipe(third, REGISTRY.get("img2img"), {"seed": 33})
        edit_s, edited = timed(lambda: workspace.runner.run_pending(project))
        workspace.close()

    def outcomes(runs) -> str:
        counts: dict[str, int] = {}
        for run in runs:
            counts[run.outcome] = counts.get(run.outcome, 0) + 1
        return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))

    rows = [
        ["cold (fresh data dir)", cold_s, outcomes(cold), 1.0],
        ["warm (all cached)", warm_s, outcomes(warm), warm_s / cold_s],
        ["after editing layer 3", edit_s, outcomes(edited), edit_s / cold_s],
    ]
    print(f"replay ({'full' if args.full else 'tiny'}, 10 layers, {size}x{size}, {steps} steps)")
    print(table(["run", "seconds", "layers", "of cold"], rows))
    print(f"target warm <= 2% of cold: {'met' if warm_s / cold_s <= 0.02 else 'NOT met'}")
    print(f"edited layer 3 re-ran: {[r.layer for r in edited]}")
    path = write_result(
        "replay",
        args,
        {
            "size": size,
            "steps": steps,
            "cold_s": cold_s,
            "warm_s": warm_s,
            "edit_s": edit_s,
            "warm_ratio": warm_s / cold_s,
            "edit_reran": [r.layer for r in edited],
        },
    )
    print(f"wrote {path}")
    failed = [r for r in [*cold, *warm, *edited] if r.outcome == "failed"]
    if failed:
        raise SystemExit(f"layers failed: {[(r.layer, r.error) for r in failed]}")


if __name__ == "__main__":
    main()
