"""The CLI end to end: save a workflow, replay it into a fresh data dir, every layer `exact`;
bad workflows are refused with a clear message and nothing is written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageChops, ImageOps
from typer.testing import CliRunner

from opendream.cli import app
from opendream.core.project import Project
from opendream.core.recipe import asset_ref
from opendream.core.registry import REGISTRY
from opendream.engine.workspace import Workspace
from tests.helpers import gradient, square_mask

runner = CliRunner()


@pytest.fixture
def saved_workflow(workspace: Workspace, tmp_path: Path) -> Path:
    """image + painted mask -> feather -> invert -> flatten, with one layer hidden."""
    project = Project.new("cli story", 64, 64)
    for image, op in ((gradient(), "load_image"), (square_mask(), "paint_mask")):
        project.add_layer(REGISTRY.get(op), {"asset": asset_ref(workspace.data.blobs.put_image(image))}, {})
    project.add_layer(REGISTRY.get("feather_mask"), {"radius": 5}, {"mask": "L2"})
    project.add_layer(REGISTRY.get("invert_mask"), {}, {"mask": "L3"})
    project.add_layer(REGISTRY.get("flatten"), {"background": "#102030"}, {"layers": ["L1"]})
    project.set_visible("L2", False)
    workspace.runner.run_pending(project)
    assert all(x.status == "ready" for x in project.layers)
    path = tmp_path / "story.json"
    path.write_text(json.dumps(workspace.export_workflow(project)))
    return path


def test_run_replays_into_a_fresh_data_dir_and_everything_is_exact(
    saved_workflow: Path, tmp_path: Path
) -> None:
    fresh, out = tmp_path / "fresh", tmp_path / "out"
    result = runner.invoke(
        app, ["run", str(saved_workflow), "--data-dir", str(fresh), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert [(x["layer"], x["outcome"], x["result"]) for x in report["layers"]] == [
        ("L1", "computed", "exact"),
        ("L2", "computed", "exact"),
        ("L3", "computed", "exact"),
        ("L4", "computed", "exact"),
        ("L5", "computed", "exact"),
    ]
    written = sorted(p.name for p in out.iterdir())
    assert written == [
        "L1-Image.png",
        "L2-Painted-mask.png",
        "L3-Feather-mask.png",
        "L4-Invert-mask.png",
        "L5-Flatten.png",
        "composite.png",
    ]

    again = runner.invoke(app, ["run", str(saved_workflow), "--data-dir", str(fresh), "--json"])
    assert again.exit_code == 0, again.output
    outcomes = {x["layer"]: x["outcome"] for x in json.loads(again.stdout)["layers"]}
    assert outcomes == {"L1": "cached", "L2": "cached", "L3": "cached", "L4": "cached", "L5": "cached"}


def test_run_reports_differences(saved_workflow: Path, tmp_path: Path) -> None:
    document = json.loads(saved_workflow.read_text())
    document["layers"][2]["result"] = "sha256:" + "0" * 64
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(document))
    result = runner.invoke(app, ["run", str(tampered), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 1
    assert "differs" in result.stdout and "exact" in result.stdout


def _bad(document: dict, **changes) -> dict:
    bad = json.loads(json.dumps(document))
    for key, value in changes.items():
        bad[key] = value
    return bad


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: b"{not json", "not valid JSON"),
        (
            lambda d: '{"format": "opendream.workflow", "version": 1, "a": ' + "[" * 200 + "]" * 200 + "}",
            "nested",
        ),
        (
            lambda d: json.dumps(
                _bad(
                    d,
                    layers=[
                        {**d["layers"][0], "op": "ghost_a", "extension": "ghost-tools"},
                        {**d["layers"][1], "op": "ghost_b"},
                        *d["layers"][2:],
                    ],
                )
            ),
            "'ghost_a' (extension 'ghost-tools'), 'ghost_b'",
        ),
        (
            lambda d: json.dumps(
                _bad(
                    d,
                    layers=[*d["layers"][:2], {**d["layers"][2], "inputs": {"mask": "L4"}}, *d["layers"][3:]],
                )
            ),
            "cycle",
        ),
        (
            lambda d: json.dumps(
                _bad(
                    d,
                    layers=[*d["layers"][:2], {**d["layers"][2], "inputs": {"mask": "L9"}}, *d["layers"][3:]],
                )
            ),
            "L9",
        ),
        (lambda d: json.dumps(_bad(d, assets={})), "sha256:"),
        (
            lambda d: json.dumps(
                _bad(
                    d,
                    layers=[*d["layers"][:2], {**d["layers"][2], "params": {"radius": -1}}, *d["layers"][3:]],
                )
            ),
            "radius",
        ),
    ],
    ids=["not-json", "too-deep", "unknown-ops", "cycle", "missing-layer", "missing-asset", "bad-param"],
)
def test_bad_workflows_are_refused_and_nothing_is_written(
    saved_workflow: Path, tmp_path: Path, mutate, message: str
) -> None:
    data = mutate(json.loads(saved_workflow.read_text()))
    bad = tmp_path / "bad.json"
    bad.write_bytes(data if isinstance(data, bytes) else data.encode())
    fresh = tmp_path / "never"
    result = runner.invoke(app, ["run", str(bad), "--data-dir", str(fresh)])
    assert result.exit_code == 2, result.output
    stderr = " ".join(result.stderr.split())  # rich wraps long lines
    assert "error:" in stderr and message in stderr, result.stderr
    assert not fresh.exists(), "nothing is written to the data directory"


def test_a_composite_over_the_pixel_budget_is_refused_and_nothing_is_written(
    saved_workflow: Path, tmp_path: Path
) -> None:
    """Every op fits the budget (one 64x64 input each); the canvas's two visible 64x64 image
    layers together do not: exit 2 with the cost and the setting, and no file in --out."""
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["run", str(saved_workflow), "--data-dir", str(tmp_path / "d"), "--out", str(out)],
        env={"OPENDREAM_PIXEL_BUDGET": str(2 * 64 * 64 - 1)},
    )
    assert result.exit_code == 2, result.output
    stderr = " ".join(result.stderr.split())  # rich wraps long lines
    assert (
        "error: composite.png not written: exporting the canvas decodes 8192 pixels (2 images); "
        "the limit is 8191 pixels per request (OPENDREAM_PIXEL_BUDGET)"
    ) in stderr, result.stderr
    assert not out.exists(), "no layer PNG and no composite.png"


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", str(tmp_path / "nope.json"), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 2 and "cannot read" in result.stderr


def test_run_takes_a_batch_of_files_each_reported_and_written_to_its_folder(
    saved_workflow: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.json"
    document = json.loads(saved_workflow.read_text())
    document["layers"][2]["result"] = "sha256:" + "0" * 64  # this one's L3 differs
    other.write_text(json.dumps(document))
    out = tmp_path / "out"
    args = ["run", str(saved_workflow), str(other), "--data-dir", str(tmp_path / "d"), "--out", str(out)]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 1, result.output  # one of them differs
    reports = json.loads(result.stdout)
    assert [(r["file"], r["ok"]) for r in reports] == [(str(saved_workflow), True), (str(other), False)]
    assert [x["result"] for x in reports[1]["layers"]] == ["exact", "exact", "differs", "exact", "exact"]
    assert sorted(p.name for p in out.iterdir()) == ["other", "story"]
    assert (out / "story" / "composite.png").is_file() and (out / "other" / "L5-Flatten.png").is_file()


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["story.json", "nope.json"], "cannot read"),
        (["story.json", "story.json"], "need different names"),
    ],
)
def test_a_bad_batch_runs_nothing(
    saved_workflow: Path, tmp_path: Path, names: list[str], message: str
) -> None:
    files = [str(saved_workflow.parent / name) for name in names]
    data = tmp_path / "d"
    result = runner.invoke(app, ["run", *files, "--data-dir", str(data), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert not (tmp_path / "out").exists() and not (data / "blobs").exists()


SLOW_EXTENSION = """
import time
from pathlib import Path

from PIL import Image

import opendream
from opendream import Context, ImageLayer


@opendream.op(title="Slow (test)")
def cli_test_slow(started: str, seconds: float = 60.0, ctx: Context = None) -> ImageLayer:
    Path(started).touch()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ctx.check_cancelled()
        time.sleep(0.05)
    return ImageLayer(image=Image.new("RGB", (8, 8)))
"""


def test_ctrl_c_stops_a_run_at_the_ops_next_step(tmp_path: Path) -> None:
    """The ops run on worker threads: Ctrl+C tells them to stop, not wait for them to end."""
    extensions = tmp_path / "extensions"
    extensions.mkdir()
    (extensions / "slow.py").write_text(SLOW_EXTENSION)
    layer = {"id": "L1", "name": "slow", "kind": "image", "op": "cli_test_slow", "op_version": "1"}
    document = {"format": "opendream.workflow", "version": 1, "name": "slow"}
    started = tmp_path / "started"
    params = {"started": str(started)}
    document |= {"canvas": {"width": 64, "height": 64}, "layers": [{**layer, "params": params, "inputs": {}}]}
    path = tmp_path / "slow.json"
    path.write_text(json.dumps(document))
    env = {**os.environ, "OPENDREAM_EXTENSION_DIRS": json.dumps([str(extensions)])}
    command = [sys.executable, "-m", "opendream.cli", "run", str(path), "--data-dir", str(tmp_path / "d")]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not started.exists():  # into the op
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
        time.sleep(0.1)
    interrupted = time.monotonic()
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=30)[0]
    assert process.returncode != 0 and time.monotonic() - interrupted < 10, output


def test_ops_lists_builtin_ops_with_schemas() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "opendream.cli", "ops", "--json"], capture_output=True, text=True, check=True
    )
    ops = {op["name"]: op for op in json.loads(result.stdout)}
    assert {"load_image", "paint_mask", "invert_mask", "feather_mask", "flatten"} <= set(ops)
    assert ops["feather_mask"]["schema"]["properties"]["mask"]["x-opendream-layer"] == "mask"
    assert ops["feather_mask"]["extension"] == "builtin"


def test_a_run_prints_only_what_concerns_the_user(tmp_path: Path) -> None:
    """No library notices (torchvision fallback, a needless cast), library progress bars
    (building the tiny models writes shards) nor tracebacks for an op's own refusal (the report
    says it): stderr stays empty."""
    workflow = tmp_path / "dream.json"
    dream = {
        "id": "L1",
        "name": "d",
        "kind": "image",
        "op": "dream",
        "op_version": "1",
        "params": {"prompt": "a", "steps": 1},
    }
    # img2img derives a pipeline from the dream's (diffusers warns about a cast it does not
    # need); one step at strength 0.75 is no step: the op refuses it, which the report says
    img2img = {**dream, "id": "L2", "op": "img2img", "inputs": {"image_layer": "L1"}}
    refused = {**img2img, "id": "L3", "params": {"prompt": "a", "steps": 1}}
    img2img["params"] = {"prompt": "a", "steps": 2}
    workflow.write_text(
        json.dumps(
            {
                "format": "opendream.workflow",
                "version": 1,
                "name": "x",
                "canvas": {"width": 64, "height": 64},
                "layers": [dream, img2img, refused],
            }
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "opendream.cli",
            "run",
            str(workflow),
            "--tiny-models",
            "--data-dir",
            str(tmp_path / "d"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "OPENDREAM_TINY_MODELS_DIR": str(tmp_path / "tiny")},
        timeout=600,
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout.count("computed") == 2
    assert "(1 x 0.75)" in result.stdout, "the refusal is in the report"
    assert result.stderr == ""


def test_run_composites_with_placement_blend_and_layer_mask(saved_workflow: Path, tmp_path: Path) -> None:
    """A version 2 file's placement, flip, blend mode and layer mask reach composite.png."""
    document = json.loads(saved_workflow.read_text())
    image = document["layers"][0]
    image.update(placement={"x": 16, "y": 8, "scale": 0.5, "flip_x": True, "flip_y": False}, mask="L2")
    document["layers"][4]["visible"] = False  # the flattened copy would cover it
    path = tmp_path / "placed.json"
    path.write_text(json.dumps(document))
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(path), "--data-dir", str(tmp_path / "d"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with Image.open(out / "composite.png") as composite, Image.open(out / "L1-Image.png") as layer:
        own = layer.convert("RGBA")
        placed = composite.convert("RGBA")
    expected = ImageOps.mirror(own).resize((32, 32), Image.Resampling.BILINEAR)
    with Image.open(out / "L2-Painted-mask.png") as mask:
        alpha = ImageChops.multiply(
            ImageOps.mirror(mask.convert("L")).resize((32, 32), Image.Resampling.BILINEAR),
            expected.getchannel("A"),
        )
    assert placed.getpixel((0, 0))[3] == 0 and placed.getpixel((15, 7))[3] == 0
    assert np.array_equal(np.asarray(placed.crop((16, 8, 48, 40)).getchannel("A")), np.asarray(alpha))
