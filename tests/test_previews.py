"""Live previews decoded by the family's tiny autoencoder (taesd, taef1 …: random-weight
stand-ins with --tiny-models), falling back to the latent-to-RGB approximation for a family
without one or when it cannot be had (offline)."""

from __future__ import annotations

from typing import Any

import pytest

from opendream.core.registry import REGISTRY
from opendream.diffusion.manager import ModelManager
from opendream.diffusion.previews import _UNAVAILABLE, tiny_autoencoder
from opendream.settings import Settings
from tests.diffusion_fixtures import make_context

DREAM = {"prompt": "a", "width": 64, "height": 64, "steps": 4, "seed": 1}


def previews(manager: Any, settings: Any, **params: Any) -> list[Any]:
    spec = REGISTRY.get("dream")
    pipe = manager.get("txt2img", params.get("model", ""))
    tiny_autoencoder(manager, pipe, wait=True)  # else the first run's previews are approximations
    ctx = make_context(manager, settings, "dream")
    spec.call(spec.validate_params({**DREAM, **params}), {}, ctx)
    return [preview for _, _, preview in ctx.recorder.events if preview is not None]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("family", "role"), [(None, "taesd"), ("sdxl", "taesdxl"), ("flux1", "taef1")])
def test_previews_come_from_the_familys_tiny_autoencoder(
    family, role, family_dirs, tiny_settings, pinned_threads
) -> None:
    manager = ModelManager(tiny_settings, device="cpu", dtype="float32")
    model = {"model": str(family_dirs[family])} if family else {}
    shown = previews(manager, tiny_settings, **model)
    assert shown and all(p.size == (64, 64) for p in shown), (
        "decoded at the picture's size (no upscaled latents)"
    )
    assert role in {entry["role"] for entry in manager.loaded()}


def test_a_family_without_one_keeps_the_approximation(family_dirs, tiny_settings, pinned_threads) -> None:
    manager = ModelManager(tiny_settings, device="cpu", dtype="float32")
    shown = previews(manager, tiny_settings, model=str(family_dirs["z-image"]))
    assert shown and all(p.size == (128, 128) for p in shown), "8x8 latents shown at 128 px"


def test_the_first_run_does_not_wait_for_the_tiny_autoencoder(
    family_dirs, tiny_settings, pinned_threads
) -> None:
    manager = ModelManager(tiny_settings, device="cpu", dtype="float32")
    pipe = manager.get("txt2img", str(family_dirs["sd3"]))
    assert tiny_autoencoder(manager, pipe) is None, "loading in the background"
    assert tiny_autoencoder(manager, pipe, wait=True) is not None


def test_offline_the_approximation_stands_in_and_is_not_retried_every_run(
    tiny_dir, tmp_path, pinned_threads, monkeypatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    settings = Settings(data_dir=tmp_path, device="cpu")  # real defaults: taesd from the hub
    manager = ModelManager(settings, device="cpu", dtype="float32")
    _UNAVAILABLE.pop("taesd", None)
    shown = previews(manager, settings, model=str(tiny_dir / "txt2img"))
    assert shown and all(p.size == (128, 128) for p in shown)
    assert "taesd" in _UNAVAILABLE
    pipe = manager.get("txt2img", str(tiny_dir / "txt2img"))
    assert tiny_autoencoder(manager, pipe) is None and manager.stats["loads"] == 1, (
        "no second try for a while"
    )
    _UNAVAILABLE.pop("taesd", None)


def test_a_fast_decoder_draft_comes_from_the_tiny_autoencoder(
    family_dirs, tiny_settings, pinned_threads
) -> None:
    import numpy as np

    from tests.diffusion_fixtures import run_op

    manager = ModelManager(tiny_settings, device="cpu", dtype="float32")
    (full,) = run_op("dream", DREAM, {}, manager, tiny_settings)
    (fast,) = run_op("dream", {**DREAM, "decoder": "fast"}, {}, manager, tiny_settings)
    (again,) = run_op("dream", {**DREAM, "decoder": "fast"}, {}, manager, tiny_settings)
    assert fast.image.size == (64, 64) and np.array_equal(np.asarray(fast.image), np.asarray(again.image))
    assert not np.array_equal(np.asarray(full.image), np.asarray(fast.image))
    (full_again,) = run_op("dream", DREAM, {}, manager, tiny_settings)
    assert np.array_equal(np.asarray(full.image), np.asarray(full_again.image)), "the cached VAE is untouched"
    with pytest.raises(Exception, match=r"no tiny autoencoder for Z-Image models here"):
        run_op(
            "dream",
            {**DREAM, "decoder": "fast", "model": str(family_dirs["z-image"])},
            {},
            manager,
            tiny_settings,
        )


def test_tiny_autoencoder_previews_arrive_on_the_websocket(tiny_client) -> None:
    """The first run may still show approximations (the tiny autoencoder loads in the
    background); a later one's previews are the tiny autoencoder's, at the picture's size
    (the approximation of a 64 px picture is shown at 128 px)."""
    import base64
    import io

    from PIL import Image

    from tests.server_fixtures import WS, new_project

    pid = new_project(tiny_client, width=64, height=64)["id"]
    sizes: list[set[tuple[int, int]]] = []
    with tiny_client.websocket_connect(WS) as ws:
        for seed in range(6):
            params = {"prompt": "a", "steps": 4, "seed": seed}
            job = tiny_client.post(
                f"/api/projects/{pid}/layers", json={"op": "dream", "params": params}
            ).json()
            job_id = job["jobs"][0]["id"]
            seen: set[tuple[int, int]] = set()
            while True:
                event = ws.receive_json()
                if event["type"] == "job.progress" and event["job"] == job_id and event.get("preview"):
                    seen.add(Image.open(io.BytesIO(base64.b64decode(event["preview"]))).size)
                if event["type"] in ("job.completed", "job.failed") and event["job"]["id"] == job_id:
                    assert event["type"] == "job.completed", event
                    break
            sizes.append(seen)
            if seen == {(64, 64)}:
                break
    assert sizes[-1] == {(64, 64)}, sizes
    assert all(s <= {(64, 64), (128, 128)} for s in sizes)


@pytest.mark.parametrize(("family", "side"), [(None, 512), ("flux1", 512), (None, 1024)])
def test_previews_of_big_pictures_are_decoded_small(
    family, side, family_dirs, tiny_settings, pinned_threads
) -> None:
    """At the sizes the UI proposes a preview is decoded at most 256 px (from averaged
    latents), not at the picture's size: a quarter of the decoding at 512."""
    manager = ModelManager(tiny_settings, device="cpu", dtype="float32")
    model = {"model": str(family_dirs[family])} if family else {}
    shown = previews(manager, tiny_settings, width=side, height=side, steps=2, **model)
    assert shown and all(p.size == (256, 256) for p in shown)
