"""Choosing where models run: ``cuda`` > ``mps`` > ``cpu``; float16 on CUDA, float32 elsewhere."""

from __future__ import annotations

_DEVICES = ("auto", "cuda", "mps", "cpu")


def detect_device(preference: str = "auto") -> tuple[str, str]:
    """Return ``(device, dtype)`` for ``preference`` (``auto``, ``cuda``, ``mps`` or ``cpu``).

    ``auto`` picks the best available device. Asking for a device that is not available
    raises a ``ValueError`` naming it rather than silently falling back."""
    if preference not in _DEVICES:
        raise ValueError(f"`device` has to be one of {', '.join(_DEVICES)} but is {preference!r}")
    if preference == "cpu":
        return "cpu", "float32"
    import torch

    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if preference == "cuda" and not cuda:
        raise ValueError("`device` is 'cuda' but torch sees no CUDA device")
    if preference == "mps" and not mps:
        raise ValueError("`device` is 'mps' but torch sees no Apple MPS device")
    if preference == "cuda" or (preference == "auto" and cuda):
        return "cuda", "float16"
    if preference == "mps" or (preference == "auto" and mps):
        return "mps", "float32"
    return "cpu", "float32"
