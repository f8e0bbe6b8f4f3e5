"""Composite memory: peak RSS of exporting a project of N visible ``load_image`` layers of
4096x4096 (the same solid PNG, as in the memory-bomb attack) against exporting one such layer.

Each export runs in a fresh subprocess through a real face: the CLI's ``run --out`` (imports
the workflow, replays its layers, writes composite.png) and the server's
``GET /api/projects/{id}/export.png`` (after ``POST /api/projects/import`` and its jobs).
Both composite through ``Workspace.composite``. The peak is the child's own ``VmHWM``
(``ru_maxrss`` would include the parent's peak, inherited across fork and exec). "export MB"
is that peak minus the same face on the same file with its layer hidden (interpreter, imports,
import and replay; no compositing). The last row runs a ``flatten`` whose 64 inputs name one
such layer (the attack's other form) and exports its result.
Target: 64 layers <= 3x one layer. ``--src`` measures another checkout's ``src`` (e.g. the
code before the fix) with the same files. ``--placed`` (issue 16: 50 layers of 2048x2048)
moves and scales every layer, gives each a blend mode in turn and one shared layer mask, so
the composite does its most: resampling, floating-point blending in bands, masking."""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import ROOT, parse_args, png_bytes, table, write_result

TARGET = 3.0


BLENDS = ("normal", "multiply", "screen", "overlay", "soft-light")


def _workflow(
    folder: Path, layers: int, side: int, visible: bool, flatten: bool = False, placed: bool = False
) -> Path:
    """A self-contained workflow file of ``layers`` load_image layers of one solid PNG, or
    (``flatten``) of one hidden such layer and a ``flatten`` naming it ``layers`` times;
    ``placed``: each layer moved, scaled, blended and masked (see the module's doc)."""
    from PIL import Image

    from opendream.core.project import Project
    from opendream.core.recipe import asset_ref
    from opendream.engine.runtime import make_runtime
    from opendream.engine.workspace import Workspace
    from opendream.settings import Settings

    settings = Settings(data_dir=folder / "build-data")
    workspace = Workspace(settings, runtime=make_runtime(settings, load_models=False))
    digest = workspace.data.blobs.put(png_bytes(Image.new("RGB", (side, side), (200, 30, 60))))
    project = Project.new(f"{layers} layers", side, side)
    if placed:
        mask = Image.linear_gradient("L").resize((side, side))
        mask_asset = asset_ref(workspace.data.blobs.put(png_bytes(mask)))
        mask_id = project.add_layer(workspace.registry.get("paint_mask"), {"asset": mask_asset}, {}).id
    for index in range(1 if flatten else layers):
        layer = project.add_layer(workspace.registry.get("load_image"), {"asset": asset_ref(digest)}, {})
        project.set_visible(layer.id, visible and not flatten)
        if placed:
            offset = (index * 97) % (side // 2) - side // 4
            project.place_layer(layer.id, {"x": offset, "y": -offset, "scale": 0.75 + (index % 3) * 0.25})
            project.set_blend(layer.id, BLENDS[index % len(BLENDS)])
            project.set_layer_mask(layer.id, mask_id)
    if flatten:
        project.add_layer(workspace.registry.get("flatten"), {}, {"layers": [layer.id] * layers})
    workspace.runner.run_pending(project)
    assert all(x.status == "ready" for x in project.layers)
    path = (
        folder
        / f"{layers}-{'visible' if visible else 'hidden'}{'-flatten' if flatten else ''}{'-placed' if placed else ''}.json"
    )
    path.write_text(json.dumps(workspace.export_workflow(project, embed="all")))
    workspace.close()
    return path


def _server_child(workflow_file: str, data_dir: str, out: str) -> None:
    from fastapi.testclient import TestClient

    from opendream.engine.runtime import make_runtime
    from opendream.engine.workspace import Workspace
    from opendream.server.app import create_app
    from opendream.settings import Settings

    settings = Settings(data_dir=Path(data_dir))
    workspace = Workspace(settings, runtime=make_runtime(settings, load_models=False))
    with TestClient(create_app(settings, workspace=workspace), base_url="http://127.0.0.1") as client:
        with open(workflow_file, "rb") as f:
            imported = client.post("/api/projects/import", files={"file": ("w.json", f)})
        imported.raise_for_status()
        project = imported.json()["project"]["id"]
        # The file's load_image layers are re-run (a deterministic op's result is not trusted).
        while any(x["status"] != "ready" for x in client.get(f"/api/projects/{project}").json()["layers"]):
            time.sleep(0.05)
        exported = client.get(f"/api/projects/{project}/export.png")
        exported.raise_for_status()
        Path(out).write_bytes(exported.content)


def _record_peak(path: str) -> None:
    """At exit, write this process's peak RSS (``VmHWM``, in KiB) to ``path``. Not ``ru_maxrss``:
    a child started by fork or vfork and exec inherits its parent's peak in ``ru_maxrss``."""

    def write() -> None:
        status = Path("/proc/self/status").read_text()
        Path(path).write_text(status.split("VmHWM:")[1].split()[0])

    atexit.register(write)


def _measure(face: str, workflow_file: Path, work: Path, src: Path) -> float:
    """Peak RSS in MB of one export by ``face`` in a fresh subprocess."""
    data_dir, out, peak = work / "data", work / "out", work / "peak"
    if face == "cli":  # the CLI's own entry point, as the console script calls it
        command = [
            "--cli",
            str(peak),
            "run",
            str(workflow_file),
            "--data-dir",
            str(data_dir),
            "--out",
            str(out),
        ]
    else:
        command = ["--server", str(peak), str(workflow_file), str(data_dir), str(work / "x.png")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-m", "bench.composite", *command], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"{face} export of {workflow_file.name} failed:\n{done.stderr[-2000:]}")
    return int(peak.read_text()) / 1024


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] in ("--cli", "--server"):
        _record_peak(sys.argv[2])
        if sys.argv[1] == "--server":
            _server_child(*sys.argv[3:6])
            return
        from opendream.cli import main as cli

        sys.argv = ["opendream", *sys.argv[3:]]
        sys.exit(cli())
    args = parse_args(
        __doc__ or "",
        [
            ("--layers", {"type": int, "default": 64, "help": "visible layers of the big project"}),
            ("--side", {"type": int, "default": 4096, "help": "pixels per side of each layer"}),
            ("--src", {"type": Path, "default": ROOT / "src", "help": "the opendream source measured"}),
            ("--faces", {"default": "cli,server", "help": "comma-separated: cli, server"}),
            ("--placed", {"action": "store_true", "help": "layers moved, scaled, blended and masked"}),
        ],
    )
    faces = args.faces.split(",")
    rows, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        placed = args.placed
        files = {
            "hidden": _workflow(Path(tmp), 1, args.side, visible=False, placed=placed),
            "one": _workflow(Path(tmp), 1, args.side, visible=True, placed=placed),
            "many": _workflow(Path(tmp), args.layers, args.side, visible=True, placed=placed),
            "flatten": _workflow(Path(tmp), args.layers, args.side, visible=True, flatten=True),
        }
        for face in faces:
            peaks = {}
            for case, path in files.items():
                work = Path(tempfile.mkdtemp(prefix=f"{face}-{case}-", dir=tmp))
                peaks[case] = _measure(face, path, work, args.src.resolve())
            base = peaks["hidden"]
            ratio = peaks["many"] / peaks["one"]
            export_ratio = (peaks["many"] - base) / max(peaks["one"] - base, 1e-9)
            rows += [
                [face, "1 layer, hidden", peaks["hidden"], 0.0, ""],
                [face, "1 layer", peaks["one"], peaks["one"] - base, 1.0],
                [face, f"{args.layers} layers", peaks["many"], peaks["many"] - base, ratio],
                [
                    face,
                    f"flatten of {args.layers} inputs (run)",
                    peaks["flatten"],
                    peaks["flatten"] - base,
                    peaks["flatten"] / peaks["one"],
                ],
            ]
            results.append(
                {
                    "face": face,
                    "peak_mb": peaks,
                    "ratio": ratio,
                    "export_ratio": export_ratio,
                    "flatten_ratio": peaks["flatten"] / peaks["one"],
                }
            )
    how = "placed, scaled, blended, masked" if args.placed else "unplaced"
    print(
        f"composite ({args.layers} layers of {args.side}x{args.side}, {how}, src {args.src}; peak per subprocess)"
    )
    print(table(["face", "project", "peak RSS MB", "export MB", "x one layer"], rows))
    for r in results:
        met = "met" if r["ratio"] <= TARGET else "NOT met"
        print(
            f"{r['face']}: target {args.layers} layers <= {TARGET:g}x one layer: {met} "
            f"({r['ratio']:.2f}x peak, {r['export_ratio']:.2f}x export memory; "
            f"flatten of {args.layers} inputs {r['flatten_ratio']:.2f}x)"
        )
    path = write_result(
        "composite",
        args,
        {
            "layers": args.layers,
            "side": args.side,
            "placed": args.placed,
            "src": str(args.src),
            "results": results,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
