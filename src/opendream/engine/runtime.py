"""The runtime an op runs in: device, dtype, model manager, settings, environment fingerprint.

torch lives behind the optional diffusion extra, so it is looked up by module name and only
when available; the engine itself never imports it."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import platform
from dataclasses import dataclass, field
from typing import Any

import opendream
from opendream.settings import Settings


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


@dataclass
class Runtime:
    settings: Settings
    device: str = "cpu"
    dtype: str = "float32"
    models: Any = None
    environment: dict[str, Any] = field(default_factory=dict)


def make_runtime(settings: Settings, *, load_models: bool = True) -> Runtime:
    """Detect the device and create the model manager when the diffusion extra is installed."""
    device, dtype, models = "cpu", "float32", None
    if load_models and importlib.util.find_spec("torch") is not None:
        importlib.import_module("opendream.diffusion.quiet").drop_library_notices()
        device_module = importlib.import_module("opendream.diffusion.device")
        device, dtype = device_module.detect_device(settings.device)
        manager_module = importlib.import_module("opendream.diffusion.manager")
        models = manager_module.ModelManager.from_settings(settings, device=device, dtype=dtype)
    environment = {
        "opendream": opendream.__version__,
        "python": platform.python_version(),
        "torch": _version("torch"),
        "diffusers": _version("diffusers"),
        "device": device,
        "dtype": dtype,
    }
    if models is not None and models.backend != "torch":  # its results are close to torch's, not the same
        environment["backend"] = models.backend
    return Runtime(settings=settings, device=device, dtype=dtype, models=models, environment=environment)
