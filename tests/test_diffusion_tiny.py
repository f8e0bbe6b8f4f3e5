"""Building the tiny models: reproducible, idempotent, safe under concurrency, self-healing."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from opendream.diffusion.model_sources import TINY_MARKER
from opendream.diffusion.tiny import ensure_tiny_model, tiny_models_dir
from opendream.settings import Settings


def _fingerprint(folder: Path) -> str:
    return json.loads((folder / TINY_MARKER).read_text())["fingerprint"]


def test_builds_are_reproducible_and_idempotent(tiny_dir, tmp_path) -> None:
    rebuilt = ensure_tiny_model("controlnet", tmp_path)
    assert _fingerprint(rebuilt) == _fingerprint(tiny_dir / "controlnet")
    mtime = (rebuilt / TINY_MARKER).stat().st_mtime_ns
    assert ensure_tiny_model("controlnet", tmp_path) == rebuilt
    assert (rebuilt / TINY_MARKER).stat().st_mtime_ns == mtime  # not rebuilt


def test_a_corrupt_build_is_rebuilt(tmp_path) -> None:
    folder = ensure_tiny_model("controlnet", tmp_path)
    good = _fingerprint(folder)
    weights = next(folder.glob("*.safetensors"))
    weights.write_bytes(b"truncated")
    assert ensure_tiny_model("controlnet", tmp_path) == folder
    assert _fingerprint(folder) == good and weights.stat().st_size > 1000
    (folder / TINY_MARKER).unlink()
    ensure_tiny_model("controlnet", tmp_path)
    assert _fingerprint(folder) == good


def test_concurrent_builds_do_not_collide(tmp_path) -> None:
    results: list[Path] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            results.append(ensure_tiny_model("controlnet", tmp_path))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(set(results)) == 1
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == ["controlnet"]  # no temp dirs left


def test_tiny_models_dir_follows_settings(tmp_path) -> None:
    assert tiny_models_dir(Settings(data_dir=tmp_path)) == tmp_path / "tiny-models"
    assert tiny_models_dir(Settings(data_dir=tmp_path, tiny_models_dir=tmp_path / "x")) == tmp_path / "x"


def test_tiny_settings_point_every_default_at_tiny_models(tiny_settings, tiny_dir) -> None:
    from opendream.models import configured_model

    assert configured_model(tiny_settings, "dream") == str(tiny_dir / "txt2img")
    assert configured_model(tiny_settings, "inpaint") == str(tiny_dir / "inpaint")
    assert configured_model(tiny_settings, "pix2pix") == str(tiny_dir / "pix2pix")
    assert configured_model(tiny_settings, "controlnet_canny") == str(tiny_dir / "controlnet")
