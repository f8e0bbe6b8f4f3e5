"""The model manager: resolve a model under its role, load it once, share components; what is
loaded lives in the model cache (``model_cache.py``), which evicts it under a memory budget.

One *base* entry per (source, revision, device, dtype) holds the loaded weights. Pipelines
of other kinds on the same base (txt2img -> img2img -> inpaint ...) are made with
``from_pipe`` and share its modules, so they cost no extra memory; extra components such as
a ControlNet are loaded once and counted once. Other models (``load``: SAM, a detector) are
entries of their own, under their role. Failures become ``ModelUnavailable`` messages that
say how to provide the model (``loading.py``)."""

from __future__ import annotations

import copy
import gc
import importlib
import logging
import threading
import time
import weakref
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypeVar

from opendream.core.errors import Cancelled, ConsentRequired, ModelUnavailable
from opendream.diffusion import controlnets, lora_slots, openvino_backend
from opendream.diffusion.adapters import Adapters, SharedExclusiveLock
from opendream.diffusion.catalog import local_embeddings, local_loras, local_models
from opendream.diffusion.embedding_files import EmbeddingFile
from opendream.diffusion.families import (
    FAMILY_NAMES,
    Family,
    check_checkpoint,
    check_task,
    detect_family,
    family_of_pipeline,
    task_class,
    task_pipelines,
    traits,
)
from opendream.diffusion.loading import (
    CONSTRUCTING,
    LINKS_DIR,
    DownloadProgress,
    hub_failure,
    link_with_suffix,
    load_failure,
    private_dir,
    short_reason,
    watch_download,
)
from opendream.diffusion.lora_files import lora_file
from opendream.diffusion.model_cache import CachedModel, ModelCache, auto_budget, estimate_bytes, module_bytes
from opendream.diffusion.model_sources import (
    Source,
    cached_snapshot,
    how_to_provide,
    identity,
    model_roots,
    resolve_confined,
    resolve_source,
)
from opendream.diffusion.offload import Placement, host_memory, largest_share, place, placement
from opendream.diffusion.quiet import silence_progress_bars
from opendream.diffusion.roles import ROLES as ROLES  # the built-in roles, declared
from opendream.models import configured_model

log = logging.getLogger("opendream.diffusion.manager")

PipelineKind = Literal["txt2img", "img2img", "inpaint", "edit", "pix2pix", "controlnet"]
PIPELINE_KINDS: tuple[str, ...] = ("txt2img", "img2img", "inpaint", "edit", "pix2pix", "controlnet")
#: UNet input channels each kind can run with (inpaint also runs plain 4-channel models).
UNET_IN_CHANNELS: dict[str, tuple[int, ...]] = {
    "txt2img": (4,),
    "img2img": (4,),
    "inpaint": (9, 4),
    "pix2pix": (8,),
    "controlnet": (4,),
}
Status = Callable[[str], None]  # what is being loaded, said before it starts
T = TypeVar("T")


class ModelManager:
    """Loads diffusers pipelines (``get``) and other models (``load``) once and keeps them,
    least-recently-used first out.

    Args:
        settings: application settings (default models, ``tiny_models``, budget, pickle opt-in).
        device (`str`, *optional*): ``cuda``, ``mps`` or ``cpu``; detected when omitted.
        dtype (`str`, *optional*): ``float16`` or ``float32``; follows the device when omitted.
        budget_bytes (`int`, *optional*): memory budget for loaded weights; from
            ``settings.model_memory_budget_mb`` or 60% of RAM (80% of VRAM on CUDA) when omitted.
    """

    def __init__(
        self,
        settings: Any = None,
        device: str | None = None,
        dtype: str | None = None,
        budget_bytes: int | None = None,
    ) -> None:
        if settings is None:
            from opendream.settings import Settings

            settings = Settings()
        self.settings = settings
        if device is None or dtype is None:
            from opendream.diffusion.device import detect_device

            detected_device, detected_dtype = detect_device(device or getattr(settings, "device", "auto"))
            device, dtype = device or detected_device, dtype or detected_dtype
        self.device = device
        self.dtype = dtype
        self.cache = ModelCache(device, budget_bytes if budget_bytes is not None else 0)
        if budget_bytes is None:
            mb = int(getattr(settings, "model_memory_budget_mb", 0) or 0)
            self.cache.budget_bytes = mb * 1024 * 1024 if mb > 0 else auto_budget(device)
        #: ``loads``, ``derived``, ``evictions`` (see ``ModelCache.stats``).
        self.stats = self.cache.stats
        #: ``torch`` or ``openvino``: what runs the UNet families' models (``OPENDREAM_BACKEND``).
        self.backend = openvino_backend.resolve_backend(str(getattr(settings, "backend", "torch")), device)
        #: Set on the view ``for_file`` returns: where named models may be, whether to download.
        self._roots: list[Path] | None = None
        self._downloads = True
        #: Clear while ``warm_up`` imports: loads wait for it rather than import beside it.
        self._warm = threading.Event()
        self._warm.set()

    def warm_up(self) -> threading.Thread:
        """Import what a first load needs on a thread of its own: diffusers with its
        text-to-image pipelines (which the first load's checks import) and, on that backend,
        OpenVINO. That is most of a start on a small CPU, which a server pays while it waits
        for its first job. Loads wait for it, so that no two threads import the same modules
        at once; a failure is only logged (the load then meets it and says what it is)."""

        def run() -> None:
            started = time.perf_counter()
            try:
                task_pipelines("txt2img")
                if self.backend == "openvino":
                    importlib.import_module("openvino")
                # What was imported lives as long as the process: frozen, the collector stops
                # walking it, whose full passes otherwise stall every thread (0.4 s on 2 cores).
                gc.freeze()
                log.info("diffusion libraries imported in %.1f s", time.perf_counter() - started)
            except Exception as exc:
                log.warning("importing the diffusion libraries failed: %s", exc)
            finally:
                self._warm.set()

        self._warm.clear()
        thread = threading.Thread(target=run, name="opendream-warm-up", daemon=True)
        thread.start()
        return thread

    def for_file(self, *, allow_download: bool) -> ModelManager:
        """This manager (same loaded models, locks and budget) as a recipe from a workflow file
        sees it: a model the recipe names (not a configured default) resolves only inside the
        model folders and the HF cache, and a hub model not cached yet is downloaded only with
        ``allow_download`` (the user's consent); else ``ConsentRequired``, nothing sent."""
        view = copy.copy(self)
        view._roots, view._downloads = model_roots(self.settings), allow_download
        return view

    def _named(self, name: str, role: str) -> bool:
        """Whether ``name`` came from a file's recipe under this view (not the role's model)."""
        return self._roots is not None and name != configured_model(self.settings, role)

    def resolve(self, model: str, role: str, revision: str | None = None) -> Source:
        """Where ``model`` (or the model of ``role``) comes from, under this view's rules."""
        name = self.model_for(model, role)
        if self._named(name, role):
            assert self._roots is not None
            return resolve_confined(name, self._roots, revision=revision, role=role)
        return resolve_source(name, revision=revision, role=role)

    def _local_only(self, source: Source, name: str, role: str) -> Path | None:
        """``None`` when this view may download ``name``; else its folder in the HF cache, or
        ``ConsentRequired`` when it is not there (the hub is not contacted at all)."""
        if self._downloads or not self._named(name, role):
            return None
        folder = cached_snapshot(source.location, source.revision)
        if folder is None:
            raise ConsentRequired(
                f"downloads {source.location!r} from the Hugging Face hub (named by the workflow file)"
            )
        return folder

    @classmethod
    def from_settings(
        cls, settings: Any, *, device: str | None = None, dtype: str | None = None
    ) -> ModelManager:
        """A manager for ``settings`` (budget from ``model_memory_budget_mb``, 0 = automatic)."""
        return cls(settings, device=device, dtype=dtype)

    # --- public -------------------------------------------------------------------------

    def model_for(self, model: str, role: str) -> str:
        """``model`` itself, or when it is empty the model the declared ``role`` uses
        (``opendream.models.configured_model``)."""
        return model.strip() if model and model.strip() else configured_model(self.settings, role)

    def identity(self, model: str, role: str) -> dict[str, Any]:
        """Identity of the weights ``model`` (or the model of ``role``) names, for cache keys."""
        name = self.model_for(model, role)
        try:
            return identity(self.resolve(name, role))
        except ModelUnavailable:
            return {"source": name, "revision": "unavailable"}

    def get(
        self,
        kind: PipelineKind,
        model: str = "",
        *,
        role: str = "dream",
        revision: str | None = None,
        controlnet: str | None = None,
        controlnet_role: str = "controlnet_canny",
        progress: DownloadProgress | None = None,
        status: Status | None = None,
    ) -> Any:
        """The pipeline of ``kind`` for ``model`` (or the default model of ``role``), loading it
        on first use. Raises ``ModelUnavailable`` with a message naming the model when its
        weights cannot be had or do not fit the kind. ``controlnet_role`` names the setting an
        unavailable ControlNet's message points at.

        ``progress`` hears the bytes of a hub download; ``status`` hears ``"loading model …"``
        when weights are really loaded (not when they are reused). Either may raise to stop."""
        if kind not in PIPELINE_KINDS:
            raise ValueError(f"`kind` has to be one of {', '.join(PIPELINE_KINDS)} but is {kind!r}")
        if kind == "controlnet" and not controlnet:
            raise ValueError("`controlnet` is required for kind 'controlnet'")
        self._warm.wait()
        name = self.model_for(model, role)
        source = self.resolve(name, role, revision)
        key = (source.kind, source.location, source.revision, self.device, self.dtype)
        with self.cache.key_lock(key), CONSTRUCTING:
            base = self.cache.get(key)
            if base is None:
                # The converted parts this model had last time are read from the disk cache
                # (without the GIL) while the checks import diffusers' pipelines and the
                # pipeline is read: most of a second start is those imports.
                prefetched = (
                    openvino_backend.prefetch(identity(source), self.openvino_cache)
                    if self.backend == "openvino"
                    else {}
                )
                try:
                    pipe = self._load_base(kind, source, name, role, progress, status, prefetched)
                finally:
                    openvino_backend.settle(prefetched)
                base = CachedModel(key=key, source=source, pipe=pipe)
                base.pipelines[(type(pipe).__name__,)] = pipe
                base.nbytes = module_bytes(list(pipe.components.values()))
                self.cache.add(base)
            return self._derive(base, kind, controlnet, role, controlnet_role, progress, status)

    def _load_base(
        self,
        kind: PipelineKind,
        source: Source,
        name: str,
        role: str,
        progress: DownloadProgress | None,
        status: Status | None,
        prefetched: dict[str, Any],
    ) -> Any:
        """The checked, loaded pipeline of ``source`` (its parts on OpenVINO where they run)."""
        family = detect_family(source)
        check_checkpoint(source, family, name)
        check_task(family, name, kind)
        if status is not None:
            status(f"loading model {name}")
        self.cache.make_room(estimate_bytes(source, self.dtype), keep=None)
        pipe = self._load(kind, family, source, name, role, progress, status)
        if self.backend == "openvino" and family is not None:
            self._on_openvino(pipe, family, source, status, prefetched)
        return pipe

    def _on_openvino(
        self, pipe: Any, family: Family, source: Source, status: Status | None, prefetched: dict[str, Any]
    ) -> None:
        """Run ``pipe``'s UNet, text encoders and VAE on OpenVINO where they convert; the torch
        weights of each are released when they can be read again from the model's folder."""
        parts = openvino_backend.pipeline_parts(pipe, family.name)
        folder = (
            Path(source.location)
            if source.kind == "folder"
            else cached_snapshot(source.location, source.revision)
            if source.kind == "hub"
            else None
        )
        reload = {
            part.name: partial(self._read_part, type(getattr(pipe, part.component)), folder, part)
            for part in parts
            if folder is not None and (folder / part.component / "config.json").is_file()
        }
        openvino_backend.attach(parts, identity(source), self.openvino_cache, status, reload, prefetched)

    def _read_part(self, cls: Any, folder: Path, part: openvino_backend.Part) -> Any:
        """The torch module of ``part`` read again from its pipeline's ``folder``, where its
        component (of class ``cls``) is."""
        with CONSTRUCTING:
            component = cls.from_pretrained(folder, subfolder=part.component, dtype=self._torch_dtype())
        return getattr(component, part.within) if part.within else component

    @property
    def openvino_cache(self) -> Path:
        """Where converted models are kept (``openvino_backend``)."""
        return Path(getattr(self.settings, "data_dir", ".")) / "openvino"

    def load(
        self,
        role: str,
        model: str,
        loader: Callable[[str], T],
        *,
        progress: DownloadProgress | None = None,
        status: Status | None = None,
    ) -> T:
        """A model that is not a diffusers pipeline (Segment Anything, a detector ...), loaded once
        by ``loader`` and kept under the same rules as pipelines: ``model`` (the declared
        ``role``'s model when empty, ``opendream.models``) is a hub repo id or a local model folder, confined to the model folders when a
        workflow file names it and downloaded only with consent; the torch modules ``loader``
        returns (itself, or inside a tuple) count against the memory budget and are evicted
        least recently used first. ``loader`` gets a local folder, or a hub repo id to download
        into the Hugging Face cache. A single file is refused unread; anything ``loader`` raises
        becomes ``ModelUnavailable`` naming the model. ``progress``/``status``: as for ``get``."""
        self._warm.wait()
        name = self.model_for(model, role)
        source = self.resolve(name, role)
        if source.kind not in ("hub", "folder"):
            raise ModelUnavailable(
                f"model {name!r} is a single file; a {role} model is a model folder or a hub repo id. "
                + how_to_provide(name, role)
            )
        # The role takes the dtype's place in the key: a pipeline's weights are never shared.
        key = (source.kind, source.location, source.revision, self.device, role)
        with self.cache.key_lock(key), CONSTRUCTING:
            base = self.cache.get(key)
            if base is not None:
                return base.pipe
            if status is not None:
                status(f"loading model {name}")
            self.cache.make_room(estimate_bytes(source, self.dtype), keep=None)
            silence_progress_bars()
            try:
                if source.kind == "hub" and (local := self._local_only(source, name, role)):
                    loaded = loader(str(local))
                elif source.kind == "hub":
                    loaded = watch_download(source.location, progress, lambda: loader(source.location))
                else:
                    loaded = loader(source.location)
            except (ModelUnavailable, Cancelled, ConsentRequired):
                raise
            except Exception as exc:
                raise load_failure(f"model {name!r}", source, exc, how_to_provide(name, role)) from exc
            self.stats["loads"] += 1
            parts = list(loaded) if isinstance(loaded, tuple) else [loaded]
            self.cache.add(
                CachedModel(key=key, source=source, pipe=loaded, nbytes=module_bytes(parts), role=role)
            )
            return loaded

    def adapters(
        self,
        pipe: Any,
        loras: list[tuple[str, float]],
        *,
        progress: DownloadProgress | None = None,
        status: Status | None = None,
        check: Callable[[], None] = lambda: None,
    ) -> Adapters:
        """The LoRAs ``(model, weight)`` for a run of ``pipe`` (a pipeline ``get`` returned),
        each loaded into its base once, as a disabled adapter; ``Adapters.applied`` turns them
        on for the run. A LoRA that cannot be had or does not fit the base is
        ``ModelUnavailable`` naming both, and leaves no adapter behind. ``check`` is called while
        waiting for another run to let go of the base (a cancel raises there)."""
        base = self.cache.entry_of(pipe)
        if base is None and not loras:
            return Adapters(SharedExclusiveLock())  # evicted meanwhile: nothing of it to share
        if base is None:
            raise ValueError("`pipe` is not a pipeline of this manager")
        if loras and not hasattr(pipe, "set_adapters"):
            raise ModelUnavailable(f"{type(pipe).__name__} takes no LoRA (a {_title(base)} model)")
        taken: list[lora_slots.LoraSlot] = []
        try:
            for model, _ in loras:
                taken.append(self._adapter(base, model, progress, status, check))
        except BaseException:
            lora_slots.release(self.cache.lock, taken)
            raise
        # In one order whatever the list's: peft sums the adapters' outputs in the order given,
        # so LoRAs a, b and b, a would otherwise round differently (seen with peft 0.21).
        active = sorted((slot.adapter, weight) for slot, (_, weight) in zip(taken, loras, strict=True))
        adapters = Adapters(base.adapter_lock, active)
        if taken:  # the slots stay this run's until it is dropped
            weakref.finalize(adapters, lora_slots.release, self.cache.lock, taken)
        return adapters

    def _adapter(
        self,
        base: CachedModel,
        model: str,
        progress: DownloadProgress | None,
        status: Status | None,
        check: Callable[[], None],
    ) -> lora_slots.LoraSlot:
        """The slot of ``base`` that holds LoRA ``model``, loaded into it if none does, pinned
        for one run."""
        import hashlib
        import json

        source = self.resolve(model, "lora")
        name = hashlib.sha256(json.dumps(identity(source), sort_keys=True).encode()).hexdigest()[:16]
        with self.cache.lock:
            if (slot := lora_slots.holding(base, name)) is not None:
                slot.pins += 1
                return slot
        if source.kind not in ("safetensors", "hub"):
            raise ModelUnavailable(
                f"LoRA {model!r} is a {source.kind}; a LoRA is a .safetensors file or a hub repo id. "
                + how_to_provide(model, "lora")
            )
        if not hasattr(base.pipe, "load_lora_weights"):
            raise ModelUnavailable(f"{_title(base)} pipelines take no LoRA (LoRA {model!r})")
        made_for = lora_file(Path(source.location)) if source.kind == "safetensors" else None
        family = family_of_pipeline(base.pipe)
        if made_for and made_for.family and family and made_for.family != family.name:
            raise ModelUnavailable(
                f"LoRA {model!r} was made for {FAMILY_NAMES.get(made_for.family, made_for.family)} but the model "
                f"{base.source.location!r} is {family.title}: pick a LoRA made for {family.title}"
            )
        if status is not None:
            status(f"loading LoRA {model}")
        with base.adapter_lock.exclusive(check):
            with self.cache.lock:
                if (slot := lora_slots.holding(base, name)) is not None:  # loaded while this one waited
                    slot.pins += 1
                    return slot
            try:
                if source.kind == "safetensors":
                    from safetensors.torch import load_file

                    weights: Any = load_file(source.location)
                elif local := self._local_only(source, model, "lora"):
                    weights = str(local)
                else:
                    weights = watch_download(source.location, progress, lambda: _hub_lora(source))
            except (Cancelled, ConsentRequired):
                raise
            except Exception as exc:
                raise load_failure(f"LoRA {model!r}", source, exc, how_to_provide(model, "lora")) from exc
            openvino_backend.restore(base.pipe, lambda part: part.lora)  # a LoRA goes into the torch weights
            incoming = lora_slots.incoming(base.pipe, weights)
            with self.cache.lock:
                slot = lora_slots.reserve_free(base, incoming, name)
            if slot is not None and incoming is not None:
                lora_slots.fill(slot, incoming)
            else:
                slot = self._new_slot(base, model, name, weights, incoming)
            self.stats["loads"] += 1
        return slot

    def _new_slot(
        self, base: CachedModel, model: str, name: str, weights: Any, incoming: lora_slots.Incoming | None
    ) -> lora_slots.LoraSlot:
        """Load LoRA ``model`` into a new adapter of ``base`` (disabled), pinned for one run."""
        with self.cache.lock:  # loads take turns (the base's exclusive lock): the count is theirs
            adapter = f"lora_{len(lora_slots.slots(base))}"
        try:
            with CONSTRUCTING:
                base.pipe.load_lora_weights(weights, adapter_name=adapter)
        except Exception as exc:
            self._drop_adapter(base, adapter)
            why = "its layers have other shapes" if "size mismatch" in str(exc) else short_reason(exc)
            raise ModelUnavailable(
                f"LoRA {model!r} does not fit the {_title(base)} model {base.source.location!r} ({why}): "
                f"pick a LoRA made for {_title(base)}"
            ) from exc
        base.pipe.disable_lora()  # on only for the runs that ask for it
        slot = lora_slots.adopt(base.pipe, adapter, name, incoming)
        slot.pins += 1
        with self.cache.lock:
            base.extras[("lora", adapter)] = slot
        return slot

    def used_embeddings(self, texts: list[str]) -> list[EmbeddingFile]:
        """The embeddings of the model folders whose names ``texts`` write."""
        return [e for e in local_embeddings(self.settings) if any(e.used_in(text) for text in texts)]

    def embeddings(
        self,
        pipe: Any,
        texts: list[str],
        *,
        status: Status | None = None,
        check: Callable[[], None] = lambda: None,
    ) -> list[tuple[EmbeddingFile, str]]:
        """Load the embeddings ``texts`` name into the base of ``pipe`` (once per file version,
        each under a token of its own so a changed file never meets its old vectors); returns
        each with its token, which the prompts are to be written with. An embedding whose vectors do not fit
        the model's text encoders is ``ModelUnavailable`` naming both."""
        import hashlib
        import json

        used = self.used_embeddings(texts)
        base = self.cache.entry_of(pipe)
        if not used or base is None:
            return []
        tokens = []
        for embedding in used:
            digest = json.dumps(self.identity(embedding.model, "lora"), sort_keys=True).encode()
            token = f"emb_{hashlib.sha256(digest).hexdigest()[:16]}"
            tokens.append((embedding, token))
            if token in base.pipe.tokenizer.get_vocab():
                continue  # loaded before, maybe through another task's pipeline sharing the encoders
            vectors = self._embedding_vectors(base, embedding)
            if status is not None:
                status(f"loading embedding {embedding.name}")
            with base.adapter_lock.exclusive(check), CONSTRUCTING:
                # The new tokens go into the torch weights.
                openvino_backend.restore(base.pipe, lambda part: isinstance(part, openvino_backend.TextPart))
                for encoder, tokenizer, tensor in vectors:
                    if token not in tokenizer.get_vocab():
                        base.pipe.load_textual_inversion(
                            {token: tensor}, token=token, text_encoder=encoder, tokenizer=tokenizer
                        )
                self.stats["loads"] += 1
        return tokens

    @staticmethod
    def _embedding_vectors(base: CachedModel, embedding: EmbeddingFile) -> list[tuple[Any, Any, Any]]:
        """``(text encoder, tokenizer, vectors)`` for each of the base's text encoders."""
        from safetensors.torch import load_file

        pipe = base.pipe
        encoders = [(pipe.text_encoder, pipe.tokenizer)]
        if (
            getattr(pipe, "text_encoder_2", None) is not None
            and getattr(pipe, "tokenizer_2", None) is not None
        ):
            encoders.append((pipe.text_encoder_2, pipe.tokenizer_2))
        if not hasattr(pipe, "load_textual_inversion") or any(e is None for e, _ in encoders):
            raise ModelUnavailable(f"{_title(base)} models take no embeddings (embedding {embedding.name!r})")
        try:
            tensors = load_file(embedding.model)
        except Exception as exc:
            raise ModelUnavailable(
                f"embedding {embedding.name!r} ({embedding.model}) cannot be read: {short_reason(exc)}"
            ) from exc
        parts = (
            [tensors["clip_l"], tensors["clip_g"]]
            if set(tensors) == {"clip_l", "clip_g"}
            else list(tensors.values())
        )
        widths = [int(encoder.config.hidden_size) for encoder, _ in encoders]  # weights may be released
        if len(parts) != len(encoders) or any(
            (part if part.dim() == 2 else part[None]).shape[1] != width
            for part, width in zip(parts, widths, strict=False)
        ):
            made_for = (
                FAMILY_NAMES.get(embedding.family, "another model") if embedding.family else "another model"
            )
            raise ModelUnavailable(
                f"embedding {embedding.name!r} was made for {made_for} but the model {base.source.location!r} "
                f"is {_title(base)}: its vectors do not fit that model's text encoders"
            )
        return [
            (encoder, tokenizer, part) for (encoder, tokenizer), part in zip(encoders, parts, strict=True)
        ]

    @staticmethod
    def _drop_adapter(base: CachedModel, name: str) -> None:
        """Remove what a failed load left of adapter ``name``, so the base stays clean."""
        loaded = {n for names in base.pipe.get_list_adapters().values() for n in names}
        if name in loaded:
            base.pipe.delete_adapters(name)

    def evict(self, model: str | None = None, role: str = "dream") -> int:
        """Drop one model (or every model when ``model`` is None) and free its memory; returns
        how many were dropped."""
        if model is None:
            return self.cache.evict(None)
        return self.cache.evict(resolve_source(self.model_for(model, role), role=role).location)

    def clear(self) -> None:
        self.cache.evict(None)

    @property
    def budget_bytes(self) -> int:
        return self.cache.budget_bytes

    @budget_bytes.setter
    def budget_bytes(self, value: int) -> None:
        self.cache.budget_bytes = value

    @property
    def used_bytes(self) -> int:
        return self.cache.used_bytes

    def loaded(self) -> list[dict[str, Any]]:
        """What is in memory, most recently used last."""
        return self.cache.loaded()

    def local_models(self) -> list[dict[str, Any]]:
        """The models available here without a download, with their family (``catalog.py``)."""
        return [m.to_dict() for m in local_models(self.settings)]

    def local_loras(self) -> list[dict[str, Any]]:
        """The LoRA files in the model folders, with their family and trigger words."""
        return [lora.to_dict() for lora in local_loras(self.settings)]

    def local_embeddings(self) -> list[dict[str, Any]]:
        """The textual-inversion embeddings in the model folders, with their family."""
        return [embedding.to_dict() for embedding in local_embeddings(self.settings)]

    # --- internals ------------------------------------------------------------------------

    def _torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype)

    def _load(
        self,
        kind: str,
        family: Family | None,
        source: Source,
        name: str,
        role: str,
        progress: DownloadProgress | None,
        status: Status | None,
    ) -> Any:
        """The base pipeline of ``source``: of the class its ``model_index.json`` names (a
        folder, a hub repo), or of ``kind``'s class in its family (a single file), on the device
        or offloaded (``_placement``: decided once its size on disk is known, after a download)."""
        silence_progress_bars()
        started = time.perf_counter()
        if source.kind == "folder" and not (Path(source.location) / "model_index.json").is_file():
            raise ModelUnavailable(
                f"model {source.location!r} is a single model folder (config.json), not a pipeline; "
                f"a {kind} op needs a full diffusers pipeline folder. "
                + how_to_provide(source.location, role)
            )
        folder = self._download(source, name, role, progress) if source.kind == "hub" else None
        where = self._placement(Source("folder", str(folder)) if folder else source, name)
        if where.why and status is not None:
            status(f"loading model {name} ({where.why})")
        if folder is not None:
            given = self._converted_elsewhere(folder, family, source)
            pipe = self._hub_errors(source, role, lambda: self._from_folder(folder, given))
        elif source.kind == "folder":
            try:
                given = self._converted_elsewhere(Path(source.location), family, source)
                pipe = self._from_folder(Path(source.location), given)
            except (OSError, ValueError, KeyError) as exc:
                raise ModelUnavailable(
                    f"model folder {source.location!r} could not be loaded ({short_reason(exc)}). "
                    + how_to_provide(source.location, role)
                ) from exc
        else:
            pipe = self._load_single_file(self._single_file_class(kind, family), family, source, role)
        pipe = place(pipe, where, self.device)
        pipe.set_progress_bar_config(disable=True)
        self._check_kind(pipe, kind, source, role)
        self.stats["loads"] += 1
        log.info(
            "loaded %s as %s in %.2fs", source.location, type(pipe).__name__, time.perf_counter() - started
        )
        return pipe

    def _placement(self, source: Source, name: str) -> Placement:
        """Where the weights of ``source`` go (``offload.placement``, ``OPENDREAM_OFFLOAD``)."""
        needed = estimate_bytes(source, self.dtype)
        share = largest_share(Path(source.location)) if source.kind == "folder" else 1.0
        largest = int(needed * share)
        setting = str(getattr(self.settings, "offload", "auto"))
        return placement(setting, self.device, needed, largest, self.budget_bytes, host_memory(), name)

    def _converted_elsewhere(self, folder: Path, family: Family | None, source: Source) -> dict[str, Any]:
        """Components not to read from ``folder``: on OpenVINO, a UNet already converted (its
        torch weights are read only when a call needs them), for a faster start and less memory."""
        if self.backend != "openvino" or family is None or self.dtype != "float32":
            return {}
        unet = openvino_backend.weightless_unet(folder, family.name, identity(source), self.openvino_cache)
        return {"unet": unet} if unet is not None else {}

    def _from_folder(self, folder: Path, given: dict[str, Any] | None = None) -> Any:
        """The pipeline of a diffusers folder, of the class its ``model_index.json`` names;
        ``given``: components not read from the folder."""
        import json

        import diffusers

        class_name = str(json.loads((folder / "model_index.json").read_text("utf-8")).get("_class_name", ""))
        cls = getattr(diffusers, class_name, None)
        if cls is None:
            raise ValueError(
                f"its pipeline class {class_name!r} is not one diffusers {diffusers.__version__} has"
            )
        return cls.from_pretrained(folder, **self._load_options(cls), **(given or {}))

    def _load_options(self, cls: Any) -> dict[str, Any]:
        """``from_pretrained``'s options for ``cls``: the dtype, and no safety checker where
        the class has one (ops run on the user's own machine, for the user)."""
        import inspect

        options: dict[str, Any] = {"dtype": self._torch_dtype()}
        accepted = inspect.signature(cls.__init__).parameters
        if "safety_checker" in accepted:
            options["safety_checker"] = None
        if "requires_safety_checker" in accepted:
            options["requires_safety_checker"] = False
        return options

    @staticmethod
    def _single_file_class(kind: str, family: Family | None) -> Any:
        """The pipeline class a single file of ``family`` loads as for ``kind`` (an unknown
        family: Stable Diffusion's, whose loader then says what it could not read)."""
        import diffusers

        task = {"controlnet": "txt2img", "pix2pix": "txt2img"}.get(kind, kind)
        if kind == "pix2pix":
            return diffusers.StableDiffusionInstructPix2PixPipeline
        key = traits(family).key if family is not None else "stable-diffusion"
        return task_pipelines(task)[key]  # type: ignore[arg-type]

    def _download(self, source: Source, name: str, role: str, progress: DownloadProgress | None) -> Path:
        """The local folder of a hub pipeline: from the Hugging Face cache, else downloaded (when
        this view may) with its bytes reported to ``progress``."""
        from diffusers import DiffusionPipeline

        return Path(
            self._hub_errors(
                source,
                role,
                lambda: (
                    self._local_only(source, name, role)
                    or watch_download(
                        source.location,
                        progress,
                        lambda: DiffusionPipeline.download(source.location, revision=source.revision),
                    )
                ),
            )
        )

    @staticmethod
    def _hub_errors(source: Source, role: str, step: Callable[[], T]) -> T:
        """``step()``, its failures said as a hub model's (offline, gated, no such repo …)."""
        try:
            return step()
        except (Cancelled, ConsentRequired, ModelUnavailable):
            raise
        except Exception as exc:  # hub errors come as OSError, HTTP errors, ValueError ...
            raise ModelUnavailable(
                f"model {source.location!r} could not be loaded from the Hugging Face hub or its local cache: "
                f"{hub_failure(exc, source)}. " + how_to_provide(source.location, role)
            ) from exc

    def _load_single_file(self, cls: Any, family: Family | None, source: Source, role: str) -> Any:
        if source.kind == "pickle" and not getattr(self.settings, "allow_pickle_checkpoints", False):
            raise ModelUnavailable(
                f"refusing to load {source.location!r}: it is a pickle checkpoint, and loading pickle files can "
                "run arbitrary code. Convert it to .safetensors, or set OPENDREAM_ALLOW_PICKLE_CHECKPOINTS=1 "
                "if you trust the file."
            )
        path = link_with_suffix(
            Path(source.location),
            ".safetensors" if source.kind == "safetensors" else ".ckpt",
            private_dir(self.settings, LINKS_DIR),
        )
        kwargs = {k: v for k, v in self._load_options(cls).items() if k != "requires_safety_checker"}
        try:
            return cls.from_single_file(str(path), **kwargs)
        except Exception as exc:
            raise ModelUnavailable(
                f"checkpoint {source.location!r} could not be loaded as a "
                f"{family.title if family else 'Stable Diffusion'} model: {hub_failure(exc, source)}. A single-file "
                "checkpoint takes its configuration (small files, no weights) from its base model's hub repo, such "
                "as stable-diffusion-v1-5/stable-diffusion-v1-5: "
                "fetched once when online, then read from the Hugging Face cache. "
                + how_to_provide(source.location, role)
            ) from exc

    def _check_kind(self, pipe: Any, kind: str, source: Source, role: str) -> None:
        unet = getattr(pipe, "unet", None)
        channels = getattr(getattr(unet, "config", None), "in_channels", None)
        if channels is not None and kind in UNET_IN_CHANNELS and channels not in UNET_IN_CHANNELS[kind]:
            raise ModelUnavailable(
                f"model {source.location!r} has a UNet with {channels} input channels, which does not fit a "
                f"{kind} op (needs {' or '.join(map(str, UNET_IN_CHANNELS[kind]))}). "
                + how_to_provide(source.location, role)
            )

    def _kind_class(self, base: CachedModel, kind: str) -> Any:
        """The pipeline class of ``kind`` in the family of ``base``'s pipeline, or
        ``ModelUnavailable`` naming the family when it has none."""
        import diffusers

        family = family_of_pipeline(base.pipe)
        title = family.title if family is not None else type(base.pipe).__name__
        if kind == "pix2pix":
            cls = (
                diffusers.StableDiffusionInstructPix2PixPipeline
                if family and family.name in ("sd1", "sd2")
                else None
            )
        elif kind == "controlnet":
            cls = controlnets.controlnet_pipeline(base.pipe)
        else:
            cls = task_class(base.pipe, kind)  # type: ignore[arg-type]
        if cls is None:
            raise ModelUnavailable(
                f"model {base.source.location!r} is {title}, which has no {kind} pipeline here"
                + (
                    f"; {kind} runs on {', '.join(controlnets.CONTROLNET_FAMILIES)} models"
                    if kind == "controlnet"
                    else ""
                )
            )
        return cls

    def _derive(
        self,
        base: CachedModel,
        kind: str,
        controlnet: str | None,
        role: str,
        controlnet_role: str,
        progress: DownloadProgress | None,
        status: Status | None,
    ) -> Any:
        cls = self._kind_class(base, kind)
        extra_key = ("controlnet", controlnet) if controlnet else None
        pipe_key = (cls.__name__, *(extra_key or ()))
        with self.cache.lock:
            existing = base.pipelines.get(pipe_key)
        if existing is not None:
            return existing
        self._check_kind(base.pipe, kind, base.source, role)
        extra: dict[str, Any] = {}
        if extra_key is not None:
            extra["controlnet"] = self._controlnet(
                base, extra_key, controlnet or "", controlnet_role, progress, status
            )
        if extra_key is not None:
            controlnets.check_fits(base.pipe, base.source.location, extra["controlnet"], controlnet or "")
        # from_pipe casts the shared modules, in place, to its dtype (float32 unless told):
        # without it a float16 base would silently become float32 for every pipeline.
        pipe = cls.from_pipe(base.pipe, dtype=self._torch_dtype(), **extra)
        pipe.set_progress_bar_config(disable=True)
        self.stats["derived"] += 1
        with self.cache.lock:
            base.pipelines[pipe_key] = pipe
            base.nbytes = module_bytes(
                [m for p in base.pipelines.values() for m in p.components.values()]
                + list(base.extras.values())
            )
        self.cache.make_room(0, keep=base.key)
        return pipe

    def _controlnet(
        self,
        base: CachedModel,
        extra_key: tuple,
        model: str,
        role: str,
        progress: DownloadProgress | None,
        status: Status | None,
    ) -> Any:
        with self.cache.lock:
            if extra_key in base.extras:
                return base.extras[extra_key]
        import diffusers

        # The ControlNet class of the base's family (SD 1.x/2.x and SDXL share one).
        cls = getattr(diffusers, controlnets.controlnet_class(base.pipe))
        if status is not None:
            status(f"loading ControlNet {model}")
        source = self.resolve(model, role)
        dtype = self._torch_dtype()
        try:
            if source.kind == "hub" and (local := self._local_only(source, model, role)) is not None:
                module = cls.from_pretrained(local, dtype=dtype)
            elif source.kind == "hub":
                module = watch_download(
                    source.location,
                    progress,
                    lambda: cls.from_pretrained(source.location, revision=source.revision, dtype=dtype),
                )
            elif source.kind == "folder":
                controlnets.check_class(
                    base.pipe, base.source.location, Path(source.location), cls.__name__, model
                )
                module = cls.from_pretrained(source.location, dtype=dtype)
            elif source.kind == "safetensors":
                path = link_with_suffix(
                    Path(source.location), ".safetensors", private_dir(self.settings, LINKS_DIR)
                )
                module = cls.from_single_file(str(path), dtype=dtype)
            else:
                raise ModelUnavailable(
                    f"refusing to load {source.location!r}: pickle ControlNet checkpoints are not supported"
                )
        except (ModelUnavailable, Cancelled, ConsentRequired):
            raise
        except Exception as exc:
            raise load_failure(f"ControlNet {model!r}", source, exc, how_to_provide(model, role)) from exc
        module = module.to(self.device)
        self.stats["loads"] += 1
        with self.cache.lock:
            base.extras[extra_key] = module
        return module


def _title(base: CachedModel) -> str:
    family = family_of_pipeline(base.pipe)
    return family.title if family is not None else type(base.pipe).__name__


def _hub_lora(source: Source) -> str:
    """The local folder of a LoRA repo, downloaded into the Hugging Face cache."""
    from huggingface_hub import snapshot_download

    return snapshot_download(source.location, revision=source.revision)


_DEFAULT_MANAGERS: dict[str, ModelManager] = {}
_DEFAULT_LOCK = threading.Lock()


def default_manager(settings: Any = None) -> ModelManager:
    """A process-wide manager for ``settings`` (one per distinct settings value)."""
    if settings is None:
        from opendream.settings import Settings

        settings = Settings()
    key = settings.model_dump_json() if hasattr(settings, "model_dump_json") else repr(settings)
    with _DEFAULT_LOCK:
        manager = _DEFAULT_MANAGERS.get(key)
        if manager is None:
            manager = _DEFAULT_MANAGERS[key] = ModelManager(settings)
        return manager
