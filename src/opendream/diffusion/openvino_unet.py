"""The CPU fast path: a pipeline's UNet denoised by OpenVINO behind the same call.

The UNet's ``forward`` is replaced, on that instance only, by one that runs an OpenVINO model
converted from it (``openvino.convert_model``, compiled for this CPU), so every op, progress,
previews and cancel work unchanged. Converted models are kept on disk, keyed by the weights'
identity, the UNet's class and shapes policy and the OpenVINO version: the ~25 s conversion of
an SD 1.5 UNet is paid once per model per machine, and OpenVINO's own cache keeps the compiled
blob. Shapes are dynamic (batch, height, width, prompt length), so a new size costs no new
conversion. A call OpenVINO's model was not converted for (ControlNet residuals, LCM's guidance
embedding, attention masks, a run with LoRAs, another dtype) goes to the torch UNet, whose
weights stay loaded; so does everything when the conversion fails (said once in the log and the
layer's status). Which backend denoised is recorded per run (``backend_used``)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import shutil
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Families whose UNet converts (the UNet2DConditionModel ones).
FAMILIES = ("sd1", "sd2", "sdxl")
#: Bumped when what is converted changes, so older cached models are not used.
CONVERSION = "unet-dynamic-1"
_used = threading.local()


def available() -> bool:
    return importlib.util.find_spec("openvino") is not None


def resolve_backend(setting: str, device: str) -> str:
    """``torch`` or ``openvino`` for ``OPENDREAM_BACKEND`` = ``setting`` on ``device``: ``auto``
    takes OpenVINO on a CPU when it is installed; ``openvino`` without it or off a CPU falls back
    to torch, saying why."""
    if setting == "torch" or (setting == "auto" and (device != "cpu" or not available())):
        return "torch"
    if device != "cpu":
        log.warning("OPENDREAM_BACKEND=openvino runs on the CPU only; the %s device uses torch", device)
        return "torch"
    if not available():
        log.warning(
            "OPENDREAM_BACKEND=openvino but OpenVINO is not installed (pip install openvino); using torch"
        )
        return "torch"
    return "openvino"


def backend_used() -> str | None:
    """The backend that denoised the last pipeline call of this thread (``None``: none yet)."""
    return getattr(_used, "backend", None)


def forget_backend() -> None:
    _used.backend = None


def _traceable(unet: Any, sdxl: bool) -> Any:
    """The module ``convert_model`` traces: the UNet's own forward, SDXL's added conditions as
    two more inputs."""
    import torch

    class Traced(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.unet = unet

        def forward(self, sample: Any, timestep: Any, hidden: Any, *added: Any) -> Any:
            extra = {"added_cond_kwargs": {"text_embeds": added[0], "time_ids": added[1]}} if sdxl else {}
            return type(unet).forward(unet, sample, timestep, hidden, return_dict=False, **extra)[0]

    return Traced()


class OpenVINOUNet:
    """Replaces ``unet.forward``. ``convert`` (or load from the disk cache) happens in ``attach``."""

    def __init__(self, unet: Any, compiled: Any, sdxl: bool) -> None:
        self.unet = unet
        self.compiled = compiled
        self.request = threading.local()
        self.sdxl = sdxl
        self.torch_only = False  # set while a run with LoRAs holds the model

    def _infer(self) -> Any:
        if not hasattr(self.request, "value"):
            self.request.value = self.compiled.create_infer_request()
        return self.request.value

    def __call__(
        self, sample: Any, timestep: Any, encoder_hidden_states: Any, *args: Any, **kwargs: Any
    ) -> Any:
        import torch

        added = kwargs.pop("added_cond_kwargs", None) or {}
        return_dict = kwargs.pop("return_dict", True)
        unsupported = (
            args
            or any(value is not None for value in kwargs.values())
            or self.torch_only
            or sample.dtype != torch.float32
            or (self.sdxl and not {"text_embeds", "time_ids"} <= set(added))
            or (not self.sdxl and added)
        )
        step = torch.as_tensor(timestep, dtype=torch.float32)
        if not unsupported and step.ndim == 1:  # one timestep for the batch, repeated
            unsupported = bool((step != step[0]).any())
            step = step[0]
        if unsupported:
            _used.backend = "torch"
            return type(self.unet).forward(
                self.unet,
                sample,
                timestep,
                encoder_hidden_states,
                *args,
                added_cond_kwargs=added or None,
                return_dict=return_dict,
                **kwargs,
            )
        inputs = [sample, step.reshape(()), encoder_hidden_states]
        if self.sdxl:
            inputs += [added["text_embeds"], added["time_ids"]]
        result = self._infer().infer([x.detach().cpu().numpy() for x in inputs], share_inputs=True)
        output = torch.from_numpy(result[0].copy())
        _used.backend = "openvino"
        if not return_dict:
            return (output,)
        from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

        return UNet2DConditionOutput(sample=output)


def _example(unet: Any, sdxl: bool) -> tuple[Any, ...]:
    import torch

    config = unet.config
    side = max(8, int(getattr(config, "sample_size", 64) or 64) // 8)
    inputs = [
        torch.randn(2, config.in_channels, side, side),
        torch.tensor(999.0),
        torch.randn(2, 77, config.cross_attention_dim),
    ]
    if sdxl:
        width = unet.add_embedding.linear_1.in_features - 6 * config.addition_time_embed_dim
        inputs += [torch.randn(2, width), torch.randn(2, 6)]
    return tuple(inputs)


def cache_key(identity: dict[str, Any], unet: Any) -> str:
    import openvino

    parts = {
        "weights": identity,
        "class": type(unet).__name__,
        "config": dict(unet.config),
        "conversion": CONVERSION,
        "openvino": openvino.__version__,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def attach(
    unet: Any, family: str, identity: dict[str, Any], cache: Path, status: Callable[[str], None] | None
) -> bool:
    """Make ``unet`` denoise on OpenVINO; ``False`` (the torch UNet unchanged, the reason logged
    and given to ``status``) when it cannot: a family whose UNet is not converted, or a
    conversion or a cached model that fails."""
    import openvino
    import torch

    if family not in FAMILIES or next(unet.parameters()).dtype != torch.float32:
        return False
    sdxl = family == "sdxl"
    folder = cache / cache_key(identity, unet)
    core = openvino.Core()
    core.set_property({"CACHE_DIR": str(cache / "compiled")})
    try:
        compiled = _cached(core, folder)
        if compiled is None:
            if status is not None:
                status("optimising the model for this CPU (once per model)…")
            compiled = core.compile_model(_convert(unet, sdxl, folder), "CPU")
    except Exception as exc:  # any failure of a third-party converter: keep the torch UNet
        reason = f"OpenVINO could not convert the {type(unet).__name__} ({str(exc).splitlines()[0][:200]}); it runs on torch"
        log.warning(reason)
        if status is not None:
            status(reason)
        return False
    unet.forward = OpenVINOUNet(unet, compiled, sdxl)
    return True


def _cached(core: Any, folder: Path) -> Any:
    """The converted model in ``folder`` compiled, or ``None``; a folder that cannot be read is
    deleted (rebuilt, not trusted). Compiled from its path, OpenVINO's cache of compiled blobs
    serves it without reading the model again."""
    if not (folder / "complete").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        return None
    try:
        return core.compile_model(str(folder / "unet.xml"), "CPU")
    except Exception as exc:
        log.warning("the cached OpenVINO model in %s cannot be read (%s); converting again", folder, exc)
        shutil.rmtree(folder, ignore_errors=True)
        return None


def _convert(unet: Any, sdxl: bool, folder: Path) -> Any:
    import openvino
    import torch

    example = _example(unet, sdxl)
    with torch.no_grad(), warnings.catch_warnings():
        # Tracing notes every shape check it bakes in; they hold for the shapes converted.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        model = openvino.convert_model(_traceable(unet, sdxl), example_input=example)
    shapes = {
        0: openvino.PartialShape([-1, unet.config.in_channels, -1, -1]),
        1: openvino.PartialShape([]),
        2: openvino.PartialShape([-1, -1, unet.config.cross_attention_dim]),
    }
    if sdxl:
        shapes |= {3: openvino.PartialShape([-1, example[3].shape[1]]), 4: openvino.PartialShape([-1, 6])}
    model.reshape(shapes)
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    openvino.save_model(model, str(staging / "unet.xml"), compress_to_fp16=False)
    (staging / "complete").write_text("ok")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return model
