"""Tiny autoencoders (the TAESD family: taesd, taesdxl, taesd3, taef1): a step's latents
decoded in milliseconds, for live previews and for ``decoder="fast"`` drafts. Each family's
is a model role (downloaded on first use like any model; with ``--tiny-models`` a random-weight
``AutoencoderTiny`` of the family's latent width stands in). Where a family has none, or it
cannot be had, previews keep the latent-to-RGB approximation."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from opendream.core.errors import ConsentRequired, ModelUnavailable
from opendream.diffusion import openvino_backend
from opendream.models import ModelRole, declare_role

log = logging.getLogger("opendream.diffusion.previews")

#: family -> (the role of its tiny autoencoder, its hub repo, its latent channels).
_AUTOENCODERS = {
    "sd1": ("taesd", "madebyollin/taesd", 4),
    "sd2": ("taesd", "madebyollin/taesd", 4),
    "sdxl": ("taesdxl", "madebyollin/taesdxl", 4),
    "sd3": ("taesd3", "madebyollin/taesd3", 16),
    "flux1": ("taef1", "madebyollin/taef1", 16),
}
TINY_AUTOENCODER_VERSION = 1
PREVIEW_SIDE = 256  # sharp enough to judge a step, a quarter of a 512 px decode's cost
LATENT_SCALE = 8  # a tiny autoencoder's picture is 8x its latents
RETRY_AFTER_S = 600
#: role -> when it last could not be had.
_UNAVAILABLE: dict[str, float] = {}
#: (a manager's cache, role): loaded once, so cached or on disk; being loaded in the background.
_READY: set[tuple] = set()
_LOADING: set[tuple] = set()
_LOCK = threading.Lock()


def _tiny_builder(channels: int) -> Any:
    def build(folder: Path) -> Path:
        from opendream.diffusion.tiny import ensure_built

        def write(out: Path) -> None:
            import torch
            from diffusers import AutoencoderTiny

            torch.manual_seed(channels)
            narrow = (8, 8, 8, 8)
            AutoencoderTiny(
                latent_channels=channels, encoder_block_out_channels=narrow, decoder_block_out_channels=narrow
            ).save_pretrained(out, safe_serialization=True)

        return ensure_built(folder, f"tae-{channels}", TINY_AUTOENCODER_VERSION, write)

    return build


ROLES = {
    role: declare_role(
        ModelRole(
            role,
            default=repo,
            form="a tiny autoencoder folder (AutoencoderTiny) or its hub repo id",
            tiny=_tiny_builder(channels),
        )
    )
    for role, repo, channels in _AUTOENCODERS.values()
}


def tiny_autoencoder(manager: Any, pipe: Any, *, wait: bool = False) -> Any | None:
    """The tiny autoencoder of ``pipe``'s family through ``manager``, or ``None`` when the family
    has none, it cannot be had here (offline, not consented), or it is still loading: the first
    call loads it in the background (``wait``: here), so previews never hold a run up."""
    from opendream.diffusion.families import family_of_pipeline

    family = family_of_pipeline(pipe)
    found = _AUTOENCODERS.get(family.name) if family is not None else None
    if found is None or manager is None:
        return None
    role = found[0]
    if time.monotonic() - _UNAVAILABLE.get(role, -RETRY_AFTER_S) < RETRY_AFTER_S:
        return None  # tried a moment ago (offline): not again every run
    key = (id(manager.cache), role)
    if key in _READY:
        return _load(manager, role)  # cached by the manager (or reloaded from disk if evicted)
    if wait:
        _fetch(manager, role, key)
        return _load(manager, role) if key in _READY else None
    with _LOCK:
        if key not in _LOADING:
            _LOADING.add(key)
            threading.Thread(
                target=_fetch, args=(manager, role, key), name=f"load {role}", daemon=True
            ).start()
    return None


def _fetch(manager: Any, role: str, key: tuple) -> None:
    try:
        _load(manager, role)
        _READY.add(key)
    except (ModelUnavailable, ConsentRequired) as exc:
        _UNAVAILABLE[role] = time.monotonic()
        log.info("previews without a tiny autoencoder for %s minutes: %s", RETRY_AFTER_S // 60, exc)
    finally:
        with _LOCK:
            _LOADING.discard(key)


def _load(manager: Any, role: str) -> Any:
    def load(source: str) -> Any:
        import torch
        from diffusers import AutoencoderTiny

        dtype = getattr(torch, manager.dtype)
        autoencoder = AutoencoderTiny.from_pretrained(source, dtype=dtype).to(manager.device).eval()
        if manager.backend == "openvino":
            parts = openvino_backend.autoencoder_parts(autoencoder, role, takes_turns=False)
            openvino_backend.attach(parts, manager.identity("", role), manager.openvino_cache, None)
        return autoencoder

    return manager.load(role, "", load)


def decode_preview(
    autoencoder: Any, latents: Any, pipe: Any, height: int, width: int, side: int = PREVIEW_SIDE
) -> Image.Image:
    """The first picture of a step's ``latents`` through ``autoencoder``, at most ``side`` px:
    the latents are averaged down first (decoding costs grow with the area: a 512 px picture's
    preview at 256 px costs a quarter). Latents packed into a sequence (Flux) are unpacked to
    the picture's ``height`` x ``width`` first."""
    import math

    import torch

    if latents.ndim == 3:
        latents = type(pipe)._unpack_latents(latents, height, width, pipe.vae_scale_factor)
    latents = latents[:1]
    factor = math.ceil(max(latents.shape[-2:]) * LATENT_SCALE / side)
    if factor > 1:
        latents = torch.nn.functional.avg_pool2d(latents, factor, ceil_mode=True)
    with torch.inference_mode():
        sample = autoencoder.decode(latents.to(autoencoder.dtype)).sample[0]
    array = ((sample.float().clamp(-1, 1) + 1) * 127.5).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array.round().astype(np.uint8), "RGB")
