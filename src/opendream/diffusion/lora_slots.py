"""The LoRA adapters a cached base holds ("slots"), and filling one in place with another LoRA.

peft adds an adapter by wrapping every layer the LoRA targets: about 0.2 s on SD 1.5, most of
what reloading the whole pipeline costs when its weights are in the page cache. A LoRA whose
converted weights have the same names, shapes, alphas and metadata as the one a slot was made
for would get the same adapter configuration from diffusers, so it is copied into that slot's
tensors instead (milliseconds). Only a slot no run has been given is refilled: ``pins`` counts
the runs (``Adapters``) that will use a slot, and a slot is released when its run is dropped."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

#: The parts of a converted key that name a LoRA tensor: ``<module>.lora_A.weight`` etc.
_FACTORS = (".lora_A.", ".lora_B.")


@dataclass
class Incoming:
    """A LoRA's denoiser weights under the names peft gives them, and the fingerprint a slot
    must have been made with to take them in place."""

    fingerprint: str
    tensors: dict[str, Any]


@dataclass
class LoraSlot:
    """One peft adapter in a base. ``holds`` is the LoRA in it now (its identity name);
    ``fingerprint`` is None when no other LoRA can be copied in (it was not made from one
    whose weights could be matched to the adapter's tensors)."""

    adapter: str
    holds: str
    fingerprint: str | None = None
    tensors: dict[str, Any] = field(default_factory=dict)
    pins: int = 0


def slots(base: Any) -> list[LoraSlot]:
    """The slots of ``base`` (a ``CachedModel``); call with the cache's lock held."""
    return [value for value in base.extras.values() if isinstance(value, LoraSlot)]


def holding(base: Any, name: str) -> LoraSlot | None:
    """The slot that holds LoRA ``name`` now, if any; call with the cache's lock held."""
    return next((slot for slot in slots(base) if slot.holds == name), None)


def reserve_free(base: Any, incoming: Incoming | None, name: str) -> LoraSlot | None:
    """A slot no run holds that ``incoming`` can be copied into, marked as holding ``name``
    and pinned (so neither a lookup of its old LoRA nor another load takes it meanwhile); call
    with the cache's lock held."""
    if incoming is None:
        return None
    for slot in slots(base):
        if slot.pins == 0 and slot.fingerprint == incoming.fingerprint:
            slot.holds = name
            slot.pins += 1
            return slot
    return None


def fill(slot: LoraSlot, incoming: Incoming) -> None:
    """Copy ``incoming``'s weights into ``slot`` (same names and shapes: its fingerprint)."""
    import torch

    with torch.no_grad():
        for key, tensor in slot.tensors.items():
            tensor.copy_(incoming.tensors[key])


def denoiser_prefix(pipe: Any) -> str | None:
    """The key prefix of the pipeline's denoiser in LoRA files (``unet``/``transformer``)."""
    for part in ("unet", "transformer"):
        if getattr(pipe, part, None) is not None:
            return part
    return None


def incoming(pipe: Any, weights: Any) -> Incoming | None:
    """``weights`` (a LoRA's state dict) converted the way diffusers' loader converts them for
    ``pipe``'s denoiser, with their fingerprint; None when they cannot go into a slot in place
    (a LoRA that touches the text encoders, or a kind other than LoRA: LoKr, control LoRAs)."""
    prefix = denoiser_prefix(pipe)
    if prefix is None or not isinstance(weights, dict) or not hasattr(pipe, "lora_state_dict"):
        return None
    from diffusers.utils import convert_unet_state_dict_to_peft

    try:
        read = pipe.lora_state_dict(dict(weights), return_lora_metadata=True)
    except (TypeError, ValueError, KeyError):
        return None  # not one it reads this way: the loader proper reports what is wrong
    state, rest = (read[0], list(read[1:])) if isinstance(read, tuple) else (read, [])
    if not state or not all(key.startswith(f"{prefix}.") for key in state):
        return None
    state = {key.removeprefix(f"{prefix}."): value for key, value in state.items()}
    if "lora_A" not in next(iter(state)):  # as diffusers' loader decides it
        state = convert_unet_state_dict_to_peft(state)
    if "lora_controlnet" in state or not all(any(f in key for f in _FACTORS) for key in state):
        return None
    shapes = sorted((key, list(value.shape), str(value.dtype)) for key, value in state.items())
    fingerprint = json.dumps([shapes, rest], sort_keys=True, default=repr)
    return Incoming(fingerprint, state)


def adopt(pipe: Any, adapter: str, name: str, loaded: Incoming | None) -> LoraSlot:
    """The slot of ``adapter``, just loaded by diffusers from ``loaded``'s file. It takes other
    LoRAs in place only when every one of ``loaded``'s tensors is found in the adapter, equal
    to what was loaded: that proves the names map to the adapter's tensors."""
    import torch

    slot = LoraSlot(adapter=adapter, holds=name)
    prefix = denoiser_prefix(pipe)
    if loaded is None or prefix is None:
        return slot
    denoiser = getattr(pipe, prefix)
    tensors = {}
    for key in loaded.tensors:
        factor = next(f for f in _FACTORS if f in key)
        module_name, attribute = key.split(factor, 1)
        try:
            layer = getattr(denoiser.get_submodule(module_name), factor.strip("."))[adapter]
        except (AttributeError, KeyError):
            return slot
        tensor = getattr(layer, attribute, None)
        if not isinstance(tensor, torch.Tensor) or not torch.equal(
            tensor, loaded.tensors[key].to(tensor.device, tensor.dtype)
        ):
            return slot
        tensors[key] = tensor
    slot.fingerprint, slot.tensors = loaded.fingerprint, tensors
    return slot


def release(lock: Any, taken: list[LoraSlot]) -> None:
    """Unpin the slots a run was given, when the run is dropped."""
    with lock:
        for slot in taken:
            slot.pins -= 1
