"""Model roles: what a model is for (``dream``, ``inpaint``, ``sam`` …), which model a role uses
when a recipe leaves ``model`` empty, how a user provides one, and the tiny stand-in
``--tiny-models`` uses. The built-in roles and those an extension declares are looked up the
same way, and every model loads through the model manager (``ctx.models``) under its role, so
it counts against the memory budget and is evicted like the others.

    SEGMENTER = opendream.models.declare_role(
        ModelRole("acme_segmenter", default="acme/segmenter-base", tiny=build_tiny_segmenter)
    )
    model, processor = ctx.models.load("acme_segmenter", model, load_it)

Importing this module imports neither torch nor diffusers."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DIFFUSERS_FORM = "a local diffusers folder, a .safetensors checkpoint file"


@dataclass(frozen=True)
class ModelRole:
    """One role a model plays.

    Args:
        name: a Python identifier; the model is set as ``OPENDREAM_<NAME>_MODEL``.
        default: the model (hub repo id or folder) when nothing is set.
        form: how a user provides one, for "model unavailable" messages.
        tiny: builds the role's tiny random-weight stand-in inside the tiny models' folder
            (once) and returns its path; ``None``: ``--tiny-models`` keeps the real default.
    """

    name: str
    default: str
    form: str = DIFFUSERS_FORM
    tiny: Callable[[Path], Path] | None = None

    @property
    def env(self) -> str:
        return f"OPENDREAM_{self.name.upper()}_MODEL"


_ROLES: dict[str, ModelRole] = {}
_LOCK = threading.Lock()


def declare_role(role: ModelRole) -> ModelRole:
    """Declare ``role`` (again, when an extension reloads: the latest declaration holds)."""
    if not role.name.isidentifier():
        raise ValueError(f"a model role's name has to be a Python identifier but is {role.name!r}")
    with _LOCK:
        _ROLES[role.name] = role
    return role


def get_role(name: str) -> ModelRole:
    """The declared role ``name``; ``ValueError`` listing the declared ones otherwise."""
    with _LOCK:
        found = _ROLES.get(name)
        names = sorted(_ROLES)
    if found is None:
        raise ValueError(f"`role` has to be one of {', '.join(names)} but is {name!r}")
    return found


def tiny_models_dir(settings: Any = None) -> Path:
    """Where the tiny models are built: ``settings.tiny_models_dir``, else
    ``<data dir>/tiny-models``."""
    if settings is not None and getattr(settings, "tiny_models_dir", None):
        return Path(settings.tiny_models_dir)
    if settings is not None:
        return Path(settings.data_dir) / "tiny-models"
    from opendream.settings import default_data_dir

    return default_data_dir() / "tiny-models"


def configured_model(settings: Any, role: str) -> str:
    """The model ``role`` uses when a recipe leaves ``model`` empty: its tiny stand-in (built on
    first use) with ``settings.tiny_models``; otherwise the ``<role>_model`` setting, or
    ``OPENDREAM_<ROLE>_MODEL`` for a role an extension declared, or the role's default."""
    declared = get_role(role)
    if getattr(settings, "tiny_models", False) and declared.tiny is not None:
        return str(declared.tiny(tiny_models_dir(settings)))
    setting = getattr(settings, f"{role}_model", None) or os.environ.get(declared.env, "").strip()
    return str(setting or declared.default)
