"""How the original Opendream recorded ``dream`` and ``mask_and_inpaint``, and the migration
each op declares to read those params (``@opendream.op(migrate=...)``).

The original's signatures were::

    dream(prompt, model_ckpt="runwayml/stable-diffusion-v1-5", seed=42, device="mps",
          batch_size=1, selected=0, num_steps=20, guidance_scale=7.5)
    mask_and_inpaint(mask_layer, image_layer, prompt,
          model_ckpt="stabilityai/stable-diffusion-2-inpainting", seed=42, device="mps",
          batch_size=1, selected=0, num_steps=20, guidance_scale=11)

and its web app recorded every one of these options. It seeded image ``i`` of its batch with
``seed + i`` and showed image ``selected``. Ours seed image ``i`` with ``seed + i`` too, and
image ``i`` of a batch can be made alone: so the layer is the image seeded
``seed + selected``, one image instead of ``batch_size`` (batching changes float rounding
only). ``device`` named the machine, not a choice; the importer drops it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opendream.core.errors import InvalidParams
from opendream.core.registry import ORIGINAL

Migration = Callable[[dict, str], dict]


def from_original(op: str, default_model: str, defaults: dict[str, Any] | None = None) -> Migration:
    """A ``migrate=`` hook for ``op``: ``num_steps`` -> ``steps``; ``model_ckpt`` naming the
    original's ``default_model`` is dropped (the role's model setting applies), any other is
    kept as ``model`` (a model the user has); ``batch_size``/``selected`` -> ``seed + selected``;
    ``defaults`` fills in the original's defaults that differ from ours."""

    def migrate(params: dict, from_version: str) -> dict:
        if from_version != ORIGINAL:
            raise InvalidParams(
                op, [{"param": "op_version", "message": f"no migration from {from_version!r}"}]
            )
        params = dict(params)
        _rename(op, params, "num_steps", "steps")
        if "model_ckpt" in params:
            model = params.pop("model_ckpt")
            if not isinstance(model, str):
                raise InvalidParams(op, [{"param": "model_ckpt", "message": "has to be a model name (text)"}])
            if model != default_model:
                params["model_ckpt"] = model
                _rename(op, params, "model_ckpt", "model")
        batch_size = _integer(op, params.pop("batch_size", 1), "batch_size", minimum=1)
        selected = _integer(op, params.pop("selected", 0), "selected", minimum=0)
        if selected >= batch_size:
            raise InvalidParams(
                op,
                [
                    {
                        "param": "selected",
                        "message": f"is {selected} but the batch has {batch_size} image(s): 0 to {batch_size - 1}",
                    }
                ],
            )
        if selected:
            params["seed"] = _integer(op, params.get("seed", 42), "seed", minimum=0) + selected
        return {**(defaults or {}), **params}

    return migrate


def _rename(op: str, params: dict, old: str, new: str) -> None:
    if old not in params:
        return
    if new in params:
        raise InvalidParams(op, [{"param": old, "message": f"is given together with `{new}`, its new name"}])
    params[new] = params.pop(old)


def _integer(op: str, value: Any, name: str, *, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidParams(
            op, [{"param": name, "message": f"has to be an integer >= {minimum}, not {value!r}"}]
        )
    return value
