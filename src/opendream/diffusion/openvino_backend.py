"""The CPU fast path: a pipeline's UNet, text encoders and VAE run by OpenVINO behind the same calls.

Each converted module's ``forward`` is replaced, on that instance only, by a ``Converted`` that
runs an OpenVINO model converted from it (``openvino.convert_model``, compiled for this CPU), so
every op, progress, previews and cancel work unchanged. A ``Part`` says, per kind of module
(UNet, CLIP text encoder, an autoencoder's encoder or decoder), what the converted model takes
and how a call maps onto it. Converted models are kept on disk, keyed by the weights' identity,
the part, its class and config, the conversion scheme and the OpenVINO version: the ~25 s
conversion of an SD 1.5 UNet is paid once per model per machine. They are compiled from their
path, so OpenVINO's own blob cache (``CACHE_DIR``, in the converted model's folder) serves a
later start without compiling; a later start begins loading them, on threads, while the
pipeline is read (``prefetch``). A load removes what the same weights had converted under keys
it no longer makes (``_stale``): GBs per model that nothing would read again.
Shapes are dynamic (batch, height, width, prompt length): a new size costs no conversion.

A call the converted model was not made for (ControlNet residuals, a run with LoRAs, an
embedding's new tokens, another dtype) runs the torch
module; so does everything of a part whose conversion fails (said once in the log and the
layer's status). A part's torch weights are released once its converted model is ready (but
for the few submodules pipelines call themselves), and the UNet's are not even read by a start
that finds it converted (``weightless_unet``): they are read from the model's folder on the
first call that needs them. The converted files' pages are handed back once a part has built
its own weights from them (``_hand_back_pages``), and a part's call frees the working buffers of
the part run before it (``_take_turn``): a dream's peak memory stays near torch's. Which
backend each part ran on is recorded per thread (``backend_used``)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, ClassVar

log = logging.getLogger(__name__)

#: Families whose UNet, CLIP text encoders and VAE convert.
FAMILIES = ("sd1", "sd2", "sdxl")
#: Bumped when what is converted changes, so older cached models are not used (``Part.conversion``:
#: one kind of part's).
CONVERSION = "parts-dynamic-fp16-3"
#: Compiled for the lowest latency of one request at a time (a run is one request per step).
COMPILE = {"PERFORMANCE_HINT": "LATENCY"}
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


def parts_used() -> dict[str, str]:
    """Part name -> the backend its last call on this thread ran on, since ``forget_backend``."""
    return dict(getattr(_used, "parts", {}))


def backend_used() -> str | None:
    """``openvino`` when any part of this thread's last pipeline call ran on OpenVINO (its
    result is then OpenVINO's, not torch's), ``torch`` when all ran on torch, ``None``: none."""
    used = set(parts_used().values())
    return "openvino" if "openvino" in used else ("torch" if used else None)


def forget_backend() -> None:
    _used.parts = {}


def _record(part: str, backend: str) -> None:
    if not hasattr(_used, "parts"):
        _used.parts = {}
    _used.parts[part] = backend


def _given(arguments: dict[str, Any], taken: set[str]) -> bool:
    """Whether ``arguments`` set anything but ``taken`` (``None`` and ``False``: left unset)."""
    return any(value is not None and value is not False for k, value in arguments.items() if k not in taken)


def _float32(tensors: list[Any]) -> bool:
    import torch

    return all(t.dtype == torch.float32 for t in tensors if t.is_floating_point())


class Part:
    """One kind of convertible module. ``run`` is the torch computation that is traced (inputs
    and outputs positional tensors); ``inputs`` maps a call of the module onto the converted
    model's inputs (``None``: the call is not one it was made for, torch runs it); ``output``
    builds what the module returns from the converted model's outputs. ``dynamic``: per input,
    the dimensions that vary between calls. ``component``: the pipeline's component the module
    is, or is the attribute ``within`` of (where its torch weights are read again from)."""

    name = ""
    dynamic: tuple[tuple[int, ...], ...] = ()
    #: Whether a LoRA changes it (a run with LoRAs then runs it on torch).
    lora = False
    #: Its weights kept when the rest are released: submodules pipelines call themselves.
    kept: tuple[str, ...] = ()
    #: Whether its call frees the buffers of the part run before (``_take_turn``).
    takes_turns = True
    #: Set when this kind's conversion changes: only its cached models are converted again.
    conversion = ""

    def __init__(
        self, module: Any, name: str, config: dict[str, Any], component: str = "", within: str = ""
    ) -> None:
        self.module = module
        self.name = name
        self.config = config
        self.component = component or name
        self.within = within

    def run(self, *inputs: Any) -> Any:
        raise NotImplementedError

    def example(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def inputs(self, args: tuple, kwargs: dict[str, Any]) -> list[Any] | None:
        raise NotImplementedError

    def output(self, outputs: list[Any], args: tuple, kwargs: dict[str, Any]) -> Any:
        raise NotImplementedError

    def torch_forward(self, *args: Any, **kwargs: Any) -> Any:
        return type(self.module).forward(self.module, *args, **kwargs)


class UNetPart(Part):
    """A UNet2DConditionModel: sample, timestep, prompt embeddings, then an LCM-distilled UNet's
    guidance embedding (``timestep_cond``) and SDXL's added conditions."""

    lora = True

    def __init__(self, module: Any, name: str, config: dict[str, Any], sdxl: bool) -> None:
        super().__init__(module, name, config)
        self.sdxl = sdxl
        self.guided = config.get("time_cond_proj_dim") is not None
        self.dynamic = ((0, 2, 3), (), (0, 1)) + ((0,),) * (self.guided + 2 * sdxl)
        if self.guided:  # converted without the embedding before: those are not used
            self.conversion = "guidance-embedding"

    def run(self, sample: Any, timestep: Any, hidden: Any, *more: Any) -> Any:
        extra: dict[str, Any] = {}
        if self.guided:
            extra["timestep_cond"], *more = more
        if self.sdxl:
            extra["added_cond_kwargs"] = {"text_embeds": more[0], "time_ids": more[1]}
        return self.torch_forward(sample, timestep, hidden, return_dict=False, **extra)[0]

    def example(self) -> tuple[Any, ...]:
        import torch

        config = self.module.config
        side = max(8, int(getattr(config, "sample_size", 64) or 64) // 8)
        inputs = [
            torch.randn(2, config.in_channels, side, side),
            torch.tensor(999.0),
            torch.randn(2, 77, config.cross_attention_dim),
        ]
        if self.guided:
            inputs.append(torch.randn(2, config.time_cond_proj_dim))
        if self.sdxl:
            width = self.module.add_embedding.linear_1.in_features - 6 * config.addition_time_embed_dim
            inputs += [torch.randn(2, width), torch.randn(2, 6)]
        return tuple(inputs)

    def inputs(self, args: tuple, kwargs: dict[str, Any]) -> list[Any] | None:
        import torch

        given = dict(zip(("sample", "timestep", "encoder_hidden_states"), args, strict=False)) | kwargs
        sample, hidden = given.get("sample"), given.get("encoder_hidden_states")
        added, cond = given.get("added_cond_kwargs") or {}, given.get("timestep_cond")
        if (
            len(args) > 3
            or sample is None
            or hidden is None
            or _given(given, _UNET_ARGUMENTS)
            or self.guided != (cond is not None)
            or not _float32([sample, hidden] + ([cond] if self.guided else []))
            or (self.sdxl and not {"text_embeds", "time_ids"} <= set(added))
            or (not self.sdxl and added)
        ):
            return None
        step = torch.as_tensor(given.get("timestep"), dtype=torch.float32)
        if step.ndim == 1:  # one timestep for the batch, repeated
            if bool((step != step[0]).any()):
                return None
            step = step[0]
        inputs = [sample, step.reshape(()), hidden] + ([cond] if self.guided else [])
        return [*inputs, added["text_embeds"], added["time_ids"]] if self.sdxl else inputs

    def output(self, outputs: list[Any], args: tuple, kwargs: dict[str, Any]) -> Any:
        if not kwargs.get("return_dict", True):
            return (outputs[0],)
        from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

        return UNet2DConditionOutput(sample=outputs[0])


_UNET_ARGUMENTS = {
    "sample",
    "timestep",
    "encoder_hidden_states",
    "timestep_cond",
    "added_cond_kwargs",
    "return_dict",
}


class TextPart(Part):
    """A CLIP text encoder (with or without projection): token ids and their attention mask in
    (all ones when the call gives none; compel's down-weighting masks a fragment out); its two
    first outputs and every hidden state out (SDXL and clip skip read the penultimate one)."""

    lora = True
    dynamic = ((0, 1), (0, 1))
    conversion = "attention-mask"
    #: Clip skip's last norm (diffusers, compel) and SDXL's projection are called on their own
    #: (transformers 5 names the norm without ``text_model.``).
    kept = ("final_layer_norm.", "text_model.final_layer_norm.", "text_projection.")
    #: class name -> its output class's two first fields.
    FIELDS: ClassVar[dict[str, tuple[str, str]]] = {
        "CLIPTextModel": ("last_hidden_state", "pooler_output"),
        "CLIPTextModelWithProjection": ("text_embeds", "last_hidden_state"),
    }

    def run(self, ids: Any, mask: Any) -> Any:
        out = self.torch_forward(ids, attention_mask=mask, output_hidden_states=True, return_dict=True)
        return (out[0], out[1], *out.hidden_states)

    def example(self) -> tuple[Any, ...]:
        import torch

        # Traced with the mask applied (transformers skips an all-ones mask only outside tracing).
        mask = torch.ones(1, 77, dtype=torch.int64)
        mask[0, 5:9] = 0
        return (torch.randint(0, self.vocab, (1, 77)), mask)

    @property
    def vocab(self) -> int:
        return int(self.config["vocab_size"])

    def inputs(self, args: tuple, kwargs: dict[str, Any]) -> list[Any] | None:
        import torch

        names = ("input_ids", "attention_mask")
        given = dict(zip(names, args, strict=False)) | kwargs
        ids, mask = given.get("input_ids"), given.get("attention_mask")
        if (
            ids is None
            or len(args) > 2
            or _given(given, {*names, "output_hidden_states", "return_dict"})
            or (mask is not None and tuple(mask.shape) != tuple(ids.shape))
            or int(ids.max()) >= self.vocab  # an embedding's tokens, added after the conversion
        ):
            return None
        return [ids, torch.ones(ids.shape, dtype=torch.int64) if mask is None else mask.to(torch.int64)]

    def output(self, outputs: list[Any], args: tuple, kwargs: dict[str, Any]) -> Any:
        from transformers.modeling_outputs import BaseModelOutputWithPooling
        from transformers.models.clip.modeling_clip import CLIPTextModelOutput

        first, second = self.FIELDS[type(self.module).__name__]
        made = CLIPTextModelOutput if first == "text_embeds" else BaseModelOutputWithPooling
        hidden = tuple(outputs[2:]) if kwargs.get("output_hidden_states") else None
        result = made(**{first: outputs[0], second: outputs[1], "hidden_states": hidden})
        return result if kwargs.get("return_dict", True) is not False else result.to_tuple()


class ImagePart(Part):
    """An autoencoder's encoder or decoder (the VAE's, the tiny autoencoder's): one image-shaped
    tensor in, one out."""

    dynamic = ((0, 2, 3),)

    def __init__(
        self, module: Any, name: str, config: dict[str, Any], shape: tuple[int, ...], **source: str
    ) -> None:
        super().__init__(module, name, config, **source)
        self.shape = shape

    def run(self, x: Any) -> Any:
        return self.torch_forward(x)

    def example(self) -> tuple[Any, ...]:
        import torch

        return (torch.randn(*self.shape),)

    def inputs(self, args: tuple, kwargs: dict[str, Any]) -> list[Any] | None:
        if len(args) != 1 or _given(kwargs, set()) or not _float32(list(args)):
            return None
        return [args[0]]

    def output(self, outputs: list[Any], args: tuple, kwargs: dict[str, Any]) -> Any:
        return outputs[0]


class Converted:
    """Replaces the ``forward`` of ``part.module``: its calls run ``compiled`` where it was made
    for them, else torch (the weights read again by ``reload`` first when they were released)."""

    def __init__(
        self, part: Part, compiled: Any, reload: Callable[[], Any] | None, cache: Path | None = None
    ) -> None:
        self.part = part
        self.compiled = compiled
        self.reload = reload
        self.cache = cache
        self.shapes: set[tuple[tuple[int, ...], ...]] = set()  # those run so far
        self.request = threading.local()
        self._state = threading.Lock()
        self._calls = 0  # running now
        self.torch_only = False  # set while a run with LoRAs holds the model
        self.released = False
        self._restoring = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        import torch

        inputs = None if self.torch_only else self.part.inputs(args, kwargs)
        if inputs is None:
            _record(self.part.name, "torch")
            self.restore()
            return self.part.torch_forward(*args, **kwargs)
        shapes = tuple(tuple(x.shape) for x in inputs)
        first = shapes not in self.shapes  # its weights are built from the files now
        self.shapes.add(shapes)
        if self.part.takes_turns:
            _take_turn(self)
        if not hasattr(self.request, "value"):
            self.request.value = self.compiled.create_infer_request()
        with self._running(), _handing_back(self.cache) if first and self.cache else nullcontext():
            # Shared, not copied: contiguous CPU tensors are read in place.
            results = self.request.value.infer([x.detach().numpy() for x in inputs], share_inputs=True)
            # Copied: the request's output buffers are written again by its next call.
            outputs = [torch.from_numpy(value.copy()) for value in results.to_tuple()]
        _record(self.part.name, "openvino")
        return self.part.output(outputs, args, kwargs)

    @contextmanager
    def _running(self) -> Iterator[None]:
        with self._state:
            self._calls += 1
        try:
            yield
        finally:
            with self._state:
                self._calls -= 1

    def release_buffers(self) -> None:
        """Free the compiled model's intermediate buffers (allocated again by its next call),
        unless a call is running (OpenVINO refuses then)."""
        with self._state:  # no call starts meanwhile
            if self._calls == 0:
                self.compiled.release_memory()

    def release(self) -> None:
        """Drop the torch weights (the converted model has its own); ``restore`` reads them
        again. Only where there is a ``reload``."""
        if self.reload is not None:
            _assign(self.part.module, None, self.part.kept)
            self.released = True

    def restore(self) -> None:
        with self._restoring:
            if self.released and self.reload is not None:
                log.info(
                    "reading the torch weights of the %s again (a call OpenVINO's model does not take)",
                    self.part.name,
                )
                _assign(self.part.module, self.reload())
                self.released = False


def _take_turn(part: Converted) -> None:
    """Free the intermediate buffers of the part this thread ran before ``part``, if another: a
    pipeline's parts run in turn (text encoders, UNet, VAE), and each one's buffers (an SD 1.5
    UNet's ~1 GB at 512 px) would otherwise stay allocated while the next runs. A preview's
    decode between two steps takes no turn (``Part.takes_turns``)."""
    before = getattr(_used, "turn", None)
    last = before() if before is not None else None
    _used.turn = weakref.ref(part)
    if last is not None and last is not part:
        last.release_buffers()


@contextmanager
def _handing_back(folder: Path) -> Iterator[None]:
    """Hand back the pages of ``folder``'s files (``_hand_back_pages``) every half second while
    the block runs, and once after: the first call at a shape reads the weights it builds its
    own from as it goes, and would hold both (6.6 GB instead of 5.1 for an SD 1.5 UNet)."""
    done = threading.Event()

    def keep_handing_back() -> None:
        while not done.wait(0.5):
            _hand_back_pages(folder)

    helper = threading.Thread(target=keep_handing_back, name="openvino-hand-back", daemon=True)
    helper.start()
    try:
        yield
    finally:
        done.set()
        helper.join()
        _hand_back_pages(folder)


_MADV_DONTNEED = 4


def _hand_back_pages(folder: Path) -> None:
    """Unmap from this process the pages it holds of read-only files under ``folder`` (converted
    models, OpenVINO's compiled blobs). The first inference at a shape builds the weights it
    computes with (float32 on a CPU without bfloat16) from the file's float16 ones, which are
    not read again but would stay resident: 1.6 GB of an SD 1.5 UNet's, a third of a dream's
    peak. A later read (a new shape) maps them back from the file. Linux only."""
    if sys.platform != "linux":
        return
    import ctypes

    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return
    prefix = str(folder.resolve()) + os.sep
    libc = ctypes.CDLL(None, use_errno=True)
    for line in maps.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5].startswith(prefix) and "w" not in fields[1]:
            start, end = (int(x, 16) for x in fields[0].split("-"))
            libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), _MADV_DONTNEED)


def _assign(module: Any, source: Any | None, kept: tuple[str, ...] = ()) -> None:
    """Give ``module``'s parameters and buffers the tensors of ``source`` (a module of the same
    structure), or empty ones (``None``: released, but for names starting with one of ``kept``;
    dtype and device kept, so the pipeline still sees where the module is)."""
    import torch

    fresh = dict(source.named_parameters()) | dict(source.named_buffers()) if source is not None else {}
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        if source is None and name.startswith(kept):
            continue
        owner_name, _, leaf = name.rpartition(".")
        owner = module.get_submodule(owner_name)
        value = fresh[name].detach() if source is not None else torch.empty(0, dtype=tensor.dtype)
        if leaf in owner._parameters:
            owner._parameters[leaf] = torch.nn.Parameter(value, requires_grad=False)
        else:
            owner._buffers[leaf] = value


def converted(pipe: Any) -> list[Converted]:
    """The converted parts of ``pipe``'s modules."""
    found = []
    for name in ("unet", "text_encoder", "text_encoder_2", "vae"):
        module = getattr(pipe, name, None)
        for inner in (module, getattr(module, "encoder", None), getattr(module, "decoder", None)):
            forward = getattr(inner, "forward", None) if inner is not None else None
            if isinstance(forward, Converted):
                found.append(forward)
    return found


@contextmanager
def on_torch(pipe: Any) -> Iterator[None]:
    """Run ``pipe``'s parts a LoRA changes on torch meanwhile (a converted model has no LoRA in
    its weights); the caller holds the model exclusively."""
    parts = [part for part in converted(pipe) if part.part.lora]
    for part in parts:
        part.restore()
        part.torch_only = True
    try:
        yield
    finally:
        for part in parts:
            part.torch_only = False


def restore(pipe: Any, which: Callable[[Part], bool]) -> None:
    """Read the released torch weights of ``pipe``'s parts ``which`` says again (before a LoRA
    or an embedding's tokens go into them)."""
    for part in converted(pipe):
        if which(part.part):
            part.restore()


def pipeline_parts(pipe: Any, family: str) -> list[Part]:
    """The convertible modules of a pipeline of ``family`` (none for other families)."""
    if family not in FAMILIES:
        return []
    parts: list[Part] = []
    unet = getattr(pipe, "unet", None)
    if unet is not None and type(unet).__name__ == "UNet2DConditionModel":
        parts.append(UNetPart(unet, "unet", dict(unet.config), family == "sdxl"))
    for name in ("text_encoder", "text_encoder_2"):
        encoder = getattr(pipe, name, None)
        if encoder is not None and type(encoder).__name__ in TextPart.FIELDS:
            parts.append(TextPart(encoder, name, encoder.config.to_dict()))
    vae = getattr(pipe, "vae", None)
    if vae is not None and type(vae).__name__ == "AutoencoderKL":
        parts += autoencoder_parts(vae, "vae")
    return parts


def autoencoder_parts(autoencoder: Any, name: str, takes_turns: bool = True) -> list[Part]:
    """An autoencoder's (AutoencoderKL, AutoencoderTiny) decoder and encoder; ``takes_turns``:
    whether their calls free the buffers of the part run before (not a preview's decoder, which
    runs between two steps of the UNet)."""
    config = dict(autoencoder.config)
    latent = int(config["latent_channels"])
    parts: list[Part] = [
        ImagePart(
            autoencoder.decoder,
            f"{name}_decoder",
            config,
            (1, latent, 16, 16),
            component=name,
            within="decoder",
        ),
        ImagePart(
            autoencoder.encoder,
            f"{name}_encoder",
            config,
            (1, int(config["in_channels"]), 128, 128),
            component=name,
            within="encoder",
        ),
    ]
    for part in parts:
        part.takes_turns = takes_turns
    return parts


def weightless_unet(folder: Path, family: str, identity: dict[str, Any], cache: Path) -> Any | None:
    """The UNet of the pipeline ``folder`` without weights when its converted model is in
    ``cache`` (``None`` else): a start then reads no torch UNet weights."""
    if family not in FAMILIES or not (folder / "unet" / "config.json").is_file():
        return None
    from accelerate import init_empty_weights
    from diffusers import UNet2DConditionModel

    config = UNet2DConditionModel.load_config(folder, subfolder="unet")
    if config.get("_class_name") != "UNet2DConditionModel":
        return None
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(config)
    if not (
        cache / cache_key(identity, UNetPart(unet, "unet", dict(unet.config), family == "sdxl")) / "complete"
    ).is_file():
        return None
    _assign(unet, None)
    return unet.eval()


def _released(module: Any) -> bool:
    return any(p.numel() == 0 for p in module.parameters())


def cache_key(identity: dict[str, Any], part: Part) -> str:
    import openvino

    parts = {
        "weights": identity,
        "part": part.name,
        "class": type(part.module).__name__,
        "config": {k: v for k, v in part.config.items() if not k.startswith("_")},  # not where it was read
        "conversion": CONVERSION + (f"+{part.conversion}" if part.conversion else ""),
        "openvino": openvino.__version__,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


_KEY = re.compile("[0-9a-f]{24}")


def _compile(core: Any, folder: Path) -> Any:
    """The converted model in ``folder`` compiled for this CPU; OpenVINO keeps its compiled
    blob beside it (removed with it), and a later start reads that instead of compiling."""
    return core.compile_model(
        str(folder / "model.xml"), "CPU", {**COMPILE, "CACHE_DIR": str(folder / "compiled")}
    )


def manifest_path(identity: dict[str, Any], cache: Path) -> Path:
    """Where the converted parts last attached for the weights ``identity`` are listed."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return cache / "manifests" / f"{digest}.json"


def prefetch(identity: dict[str, Any], cache: Path) -> dict[str, Future]:
    """Start compiling, from the disk cache, the converted parts the weights ``identity`` had
    last time (folder name -> its compiled model, to come), on threads of their own: OpenVINO
    reads its blobs without the GIL, so this overlaps with importing diffusers' pipelines and
    reading the pipeline (a second start's ~1.4 s of blob loading on SD 1.5). ``attach`` takes
    those whose key still matches; a stale or unreadable entry only costs the work, as
    ``attach`` checks each part again; ``settle`` waits for those it did not take."""
    folders = [cache / name for name in _listed(identity, cache) if (cache / name / "complete").is_file()]
    if not folders:
        return {}
    import openvino

    core = openvino.Core()
    pool = ThreadPoolExecutor(len(folders), thread_name_prefix="openvino-prefetch")
    pending = {folder.name: pool.submit(_compile, core, folder) for folder in folders}
    pool.shutdown(wait=False)
    return pending


def attach(
    parts: list[Part],
    identity: dict[str, Any],
    cache: Path,
    status: Callable[[str], None] | None,
    reload: dict[str, Callable[[], Any]] | None = None,
    prefetched: dict[str, Future] | None = None,
) -> list[str]:
    """Make each of ``parts`` run on OpenVINO (converted once, then from the disk cache); the
    names of those that do. A part that cannot keeps its torch module, the reason logged and
    given to ``status``. ``reload``: part name -> a fresh torch module of it, for parts whose
    torch weights are to be released; ``prefetched``: what ``prefetch`` started."""
    import openvino
    import torch

    core = openvino.Core()
    keys = [cache_key(identity, part) for part in parts]
    pending = prefetched or {}
    stale = _stale(identity, cache, keys)
    settle({folder.name: pending.pop(folder.name) for folder in stale if folder.name in pending})
    _remove(stale)
    done = []
    attached = []
    for number, (part, key) in enumerate(zip(parts, keys, strict=True), 1):
        if any(p.dtype != torch.float32 for p in part.module.parameters()):
            continue
        folder = cache / key
        try:
            compiled = _taken(pending.get(folder.name)) or _cached(core, folder)
            if compiled is None:
                if status is not None:  # the progress of a minute or two of work
                    status(
                        f"optimising the model for this CPU (once per model): part {number} of {len(parts)}…"
                    )
                if _released(part.module) and part.name in (reload or {}):  # a weightless UNet
                    _assign(part.module, (reload or {})[part.name]())
                _convert(part, folder)
                compiled = _compile(core, folder)
        except Exception as exc:  # any failure of a third-party converter: keep the torch module
            reason = (
                f"OpenVINO could not convert the {type(part.module).__name__} "
                f"({str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}); it runs on torch"
            )
            log.warning(reason)
            if status is not None:
                status(reason)
            continue
        forward = Converted(part, compiled, (reload or {}).get(part.name), cache)
        part.module.forward = forward
        forward.release()
        done.append(part.name)
        attached.append(folder.name)
    _write_manifest(identity, cache, attached)
    return done


def settle(prefetched: dict[str, Future]) -> None:
    """Wait for what ``prefetch`` started and ``attach`` did not take (stale entries, or a
    load that failed): no OpenVINO work outlives the load, since it sets the process's
    locale while it reads a model."""
    for pending in prefetched.values():
        if not pending.cancel():
            _taken(pending)


def _taken(pending: Future | None) -> Any:
    """The compiled model ``prefetch`` made, or ``None`` (none started, or it failed: the
    part is then compiled, or converted again, the ordinary way, which says why)."""
    if pending is None:
        return None
    try:
        return pending.result()
    except Exception:  # reported by the ordinary path, which meets the same folder
        return None


def _listed(identity: dict[str, Any], cache: Path) -> list[str]:
    """The folders of the converted parts the weights ``identity`` had last time (its
    manifest); only names of the keys' form: a manifest is never trusted with a path."""
    try:
        listed = json.loads(manifest_path(identity, cache).read_text("utf-8"))
    except (OSError, ValueError):
        return []
    return (
        [name for name in listed if isinstance(name, str) and _KEY.fullmatch(name)]
        if isinstance(listed, list)
        else []
    )


def _stale(identity: dict[str, Any], cache: Path, keys: list[str]) -> list[Path]:
    """The converted parts the weights ``identity`` had last time under keys other than
    ``keys`` (another conversion scheme, OpenVINO version or config), and the blobs older
    versions compiled into one shared folder: nothing reads them again."""
    return [cache / name for name in _listed(identity, cache) if name not in keys] + [cache / "compiled"]


def _remove(folders: list[Path]) -> None:
    for folder in folders:
        if folder.is_dir():
            size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            shutil.rmtree(folder, ignore_errors=True)
            log.info("removed %s, converted for an earlier version (%.0f MB)", folder, size / 2**20)


def _write_manifest(identity: dict[str, Any], cache: Path, names: list[str]) -> None:
    """List ``names`` for the next start's ``prefetch`` (written aside, then renamed)."""
    path = manifest_path(identity, cache)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_suffix(".partial")
        staging.write_text(json.dumps(names), "utf-8")
        staging.replace(path)
    except OSError as exc:  # only the next start's head start is lost
        log.warning("could not write %s (%s)", path, exc)


def _cached(core: Any, folder: Path) -> Any:
    """The converted model in ``folder`` compiled, or ``None``; a folder that cannot be read is
    deleted (rebuilt, not trusted). Compiled from its path, so OpenVINO's cache of compiled
    blobs serves it without reading the model again."""
    if not (folder / "complete").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        return None
    try:
        return _compile(core, folder)
    except Exception as exc:
        log.warning("the cached OpenVINO model in %s cannot be read (%s); converting again", folder, exc)
        shutil.rmtree(folder, ignore_errors=True)
        return None


def _traceable(part: Part) -> Any:
    """The module ``convert_model`` traces: ``part.run``."""
    import torch

    class Traced(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = part.module

        def forward(self, *inputs: Any) -> Any:
            return part.run(*inputs)

    return Traced()


def _convert(part: Part, folder: Path) -> None:
    """Convert ``part`` and save it in ``folder`` (written aside, renamed when complete)."""
    import openvino
    import torch

    example = part.example()
    with torch.no_grad(), warnings.catch_warnings():
        # Tracing notes every shape check it bakes in; they hold for the shapes converted.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        model = openvino.convert_model(_traceable(part), example_input=example)
    model.reshape(
        {
            i: openvino.PartialShape([-1 if d in dynamic else n for d, n in enumerate(x.shape)])
            for i, (x, dynamic) in enumerate(zip(example, part.dynamic, strict=True))
        }
    )
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    # Weights kept as float16: the CPU computes in bfloat16 where it can (float32 else), so
    # nothing is lost there, and the compiled model holds half the memory (an SD 1.5 dream's
    # peak below torch's instead of 1.3x it) and half the disk.
    openvino.save_model(model, str(staging / "model.xml"), compress_to_fp16=True)
    (staging / "complete").write_text("ok", "utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
