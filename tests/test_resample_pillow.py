"""The editor's resampling of scaled layers (frontend/src/canvas/resample.ts) against Pillow's
BILINEAR resize of RGBA, which export.png uses (core/composite.py): the same pixels. Pillow makes
the expected images here; the TypeScript module, bundled by the frontend's own Rolldown, runs in
Node.js on the same inputs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from opendream.core.placement import Placement

ROOT = Path(__file__).resolve().parent.parent
FRONTEND = ROOT / "frontend"

RUNNER = """
import { readFileSync, writeFileSync } from 'node:fs'
import { resampleBilinear } from './resample.mjs'

const dir = process.argv[2]
for (const c of JSON.parse(readFileSync(`${dir}/cases.json`, 'utf8'))) {
  const pixels = new Uint8ClampedArray(readFileSync(`${dir}/${c.name}.in`))
  writeFileSync(`${dir}/${c.name}.out`, resampleBilinear(pixels, c.size, c.to))
}
"""


def _size(size: tuple[int, int]) -> dict[str, int]:
    return {"width": size[0], "height": size[1]}


def _rgba(size: tuple[int, int], seed: int) -> np.ndarray:
    """Noisy gradients with a fully transparent band, an opaque band and random alpha between."""
    width, height = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([255 * x / max(1, width - 1), 255 * y / max(1, height - 1), 128 + 0 * x], -1)
    rgb = np.clip(rgb * 0.7 + rng.integers(0, 77, (height, width, 3)), 0, 255)
    alpha = rng.integers(0, 256, (height, width)).astype(np.float64)
    alpha[:, : width // 4] = 0
    alpha[:, width // 4 : width // 2] = 255
    return np.concatenate([rgb, alpha[..., None]], -1).astype(np.uint8)


# (source width, height), scale as a layer's placement has it; (width, height) for a target that
# only the general resize takes (one axis changed).
CASES: list[tuple[tuple[int, int], float | tuple[int, int]]] = [
    ((97, 61), 0.1),
    ((97, 61), 0.37),
    ((64, 48), 0.5),
    ((101, 77), 0.73),
    ((37, 23), 1.3),
    ((16, 11), 2.0),
    ((33, 17), 0.01),  # a 1x1 result
    ((5, 3), 0.37),
    ((1, 1), 3.0),
    ((40, 30), (17, 30)),
    ((40, 30), (40, 71)),
]


def test_the_editor_resamples_as_pillow(tmp_path: Path) -> None:
    bundled = subprocess.run(
        [
            str(FRONTEND / "node_modules" / ".bin" / "rolldown"),
            "src/canvas/resample.ts",
            "--format",
            "esm",
            "--file",
            str(tmp_path / "resample.mjs"),
        ],
        cwd=FRONTEND,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bundled.returncode == 0, bundled.stdout + bundled.stderr
    (tmp_path / "run.mjs").write_text(RUNNER)
    manifest, expected = [], {}
    for i, (size, target) in enumerate(CASES):
        pixels = _rgba(size, i)
        to = Placement(scale=target).scaled_size(size) if isinstance(target, float) else target
        name = f"case{i}"
        (tmp_path / f"{name}.in").write_bytes(pixels.tobytes())
        manifest.append({"name": name, "size": _size(size), "to": _size(to)})
        expected[name] = (
            np.asarray(Image.fromarray(pixels, "RGBA").resize(to, Image.Resampling.BILINEAR)),
            size,
            target,
        )
    (tmp_path / "cases.json").write_text(json.dumps(manifest))

    ran = subprocess.run(
        ["node", str(tmp_path / "run.mjs"), str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    for name, (want, size, target) in expected.items():
        got = np.frombuffer((tmp_path / f"{name}.out").read_bytes(), np.uint8).reshape(want.shape)
        difference = np.abs(got.astype(int) - want.astype(int))
        assert difference.max() == 0, (
            f"{size} at {target}: differs from Pillow by up to {difference.max()} levels "
            f"on {(difference.max(axis=-1) > 0).sum()} of {want.shape[0] * want.shape[1]} pixels"
        )
