"""Mapping the original Opendream's op parameters onto the built-in ops' parameters.

The original ``dream(prompt, model_ckpt, seed, device, batch_size, selected, num_steps,
guidance_scale)`` generated ``batch_size`` images with generators seeded ``seed + i`` and
kept image ``selected``. Our ``dream`` seeds image ``i`` with ``seed + i`` too, so the kept
image is ``num_images=1`` with ``seed + selected``."""

from __future__ import annotations

from typing import Any

#: Hub ids the original used that have since moved.
MOVED_MODELS = {
    "runwayml/stable-diffusion-v1-5": "stable-diffusion-v1-5/stable-diffusion-v1-5",
    "runwayml/stable-diffusion-inpainting": "stable-diffusion-v1-5/stable-diffusion-inpainting",
}
_RENAMED = {"model_ckpt": "model", "num_steps": "steps"}
_LAYER_RENAMES = {"mask_image": "mask_layer", "image": "image_layer"}
_DROPPED = {"device", "batch_size", "selected"}


def map_original_params(op_name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Translate an original-Opendream params dict for ``op_name`` into this version's names.

    - ``model_ckpt`` -> ``model`` (moved hub ids are updated), ``num_steps`` -> ``steps``.
    - ``batch_size``/``selected`` -> ``seed + selected`` (one image, the one that was kept).
    - the original ``mask_and_inpaint`` defaulted ``guidance_scale`` to 11; that is kept.
    - ``device`` is dropped (the runtime chooses); so are params the target op does not know
      when ``op_name`` is one of ours (``dream``, ``mask_and_inpaint``, ``img2img``).
    - ``mask_image``/``image`` (layer arguments of the original ``mask_and_inpaint``) ->
      ``mask_layer``/``image_layer``; callers move those into ``inputs``.
    Unknown ops get only the renames, so third-party ops keep their own params."""
    mapped: dict[str, Any] = {}
    for key, value in params.items():
        if key in _DROPPED:
            continue
        new_key = _RENAMED.get(key, key)
        if op_name == "mask_and_inpaint":
            new_key = _LAYER_RENAMES.get(new_key, new_key)
        mapped[new_key] = value
    if isinstance(mapped.get("model"), str):
        mapped["model"] = MOVED_MODELS.get(mapped["model"], mapped["model"])
    if "selected" in params and isinstance(params.get("selected"), int):
        mapped["seed"] = int(mapped.get("seed", 42)) + int(params["selected"])
    if op_name == "mask_and_inpaint" and "guidance_scale" not in mapped:
        mapped["guidance_scale"] = 11.0  # the original's default for inpainting
    if op_name in ("dream", "mask_and_inpaint"):
        known = _known_params(op_name)
        mapped = {k: v for k, v in mapped.items() if k in known}
    return mapped


def _known_params(op_name: str) -> set[str]:
    if op_name == "dream":
        return {
            "prompt",
            "negative_prompt",
            "width",
            "height",
            "steps",
            "guidance_scale",
            "scheduler",
            "seed",
            "num_images",
            "model",
        }
    return {
        "mask_layer",
        "image_layer",
        "prompt",
        "negative_prompt",
        "strength",
        "steps",
        "guidance_scale",
        "seed",
        "mask_feather",
        "model",
    }
