"""Runs one recipe: cache lookup, op call with a Context, output storage.

This is the seam a remote executor (e.g. one Ray actor per GPU) would implement: it takes a
recipe and its input blob hashes and gives back output blob hashes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from PIL import Image

from opendream.core.context import Context
from opendream.core.errors import ConsentRequired, OpFailed
from opendream.core.images import check_pixel_budget
from opendream.core.layer import ImageLayer, Layer, MaskLayer
from opendream.core.recipe import LayerKind, Recipe, asset_digest, canonical_json, sha256_hex
from opendream.core.registry import OpRegistry, OpSpec
from opendream.engine import diagnose
from opendream.engine.consent import USER, Trust
from opendream.engine.hooks import Hooks
from opendream.engine.runtime import Runtime
from opendream.storage.blobs import BlobStore
from opendream.storage.db import Database

InputBlobs = dict[str, tuple[LayerKind, str] | list[tuple[LayerKind, str]]]


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation failure, on any device: torch raises ``OutOfMemoryError``
    for CUDA, but a plain ``RuntimeError`` from its CPU and MPS allocators."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text)


@dataclass(frozen=True)
class Execution:
    outputs: list[tuple[LayerKind, str]]
    cache_hit: bool
    seconds: float
    key: str
    made_by: dict[str, str]  # the op's provenance (core/provenance.py)
    #: The runtime's versions and what the op recorded it used (``Context.environment``).
    environment: dict[str, Any]


class Executor:
    def __init__(self, registry: OpRegistry, blobs: BlobStore, db: Database, runtime: Runtime) -> None:
        self.registry = registry
        self.blobs = blobs
        self.db = db
        self.runtime = runtime

    def context(self, spec: OpSpec, hooks: Hooks, trust: Trust = USER) -> Context:
        models = self.runtime.models
        if trust.from_file and models is not None:
            # A file's recipe sees only the model folders, and downloads only with consent.
            models = models.for_file(allow_download=trust.consented)
        return Context(
            op_name=spec.name,
            device=self.runtime.device,
            dtype=self.runtime.dtype,
            models=models,
            settings=self.runtime.settings,
            on_progress=hooks.progress,
            cancel_event=hooks.cancel,
            load_asset=lambda ref: self.blobs.get_image(asset_digest(ref)),
            on_download=hooks.download,
            on_status=hooks.status,
        )

    def cache_key(self, spec: OpSpec, recipe: Recipe, inputs: InputBlobs, ctx: Context) -> str:
        """sha256 of the canonical JSON of everything that determines the outputs."""
        identity = spec.identity(recipe.params, ctx) if spec.identity else None
        blob_inputs = {
            name: [h for _, h in value] if isinstance(value, list) else value[1]
            for name, value in inputs.items()
        }
        material = {
            "op": spec.name,
            "op_version": spec.version,
            "params": recipe.params,
            "inputs": blob_inputs,
            "identity": identity,
        }
        if spec.overrides is not None:
            # A user's op of a built-in's name makes other pixels: they never share cache entries.
            material["made_by"] = spec.provenance
        return sha256_hex(canonical_json(material).encode())

    def execute(
        self,
        recipe: Recipe,
        inputs: InputBlobs,
        hooks: Hooks,
        *,
        use_cache: bool = True,
        trust: Trust = USER,
    ) -> Execution:
        """Run ``recipe`` (or take its cached outputs). Raises what the op raises, and
        ``ConsentRequired`` before a file's recipe would reach a remote service unasked."""
        started = time.perf_counter()
        spec = self.registry.get(recipe.op)
        ctx = self.context(spec, hooks, trust)
        key = self.cache_key(spec, recipe, inputs, ctx)
        cacheable = spec.deterministic
        if use_cache and cacheable:
            cached = self.db.cache_get(key)
            if cached is not None and all(self.blobs.has(digest) for digest in cached):
                outputs = [(self._kind_of(digest), digest) for digest in cached]
                return Execution(
                    outputs,
                    True,
                    time.perf_counter() - started,
                    key,
                    spec.provenance,
                    self.runtime.environment,
                )
        if spec.service and trust.from_file and not trust.consented:
            raise ConsentRequired(f"calls {spec.service}")
        layers = self._load(spec.name, inputs)
        for param in spec.layer_params:
            layers.setdefault(param.name, [] if param.many else None)
        try:
            results = spec.call(recipe.params, layers, ctx)
        except Exception as exc:
            if out_of_memory(exc):
                raise OpFailed(
                    f"{spec.name}: out of memory on {ctx.device}; try a smaller size, fewer images, or a "
                    "lower OPENDREAM_MODEL_MEMORY_BUDGET_MB so fewer models stay loaded"
                ) from exc
            explained = diagnose.explain(exc, spec.extension if spec.user else None, spec.file)
            if explained is None:
                raise
            raise OpFailed(f"{spec.name}: {explained}") from exc
        ctx.check_cancelled()
        outputs: list[tuple[LayerKind, str]] = [(r.kind, self.blobs.put_image(r.image)) for r in results]
        if cacheable:
            # Running can pin the identity down (a hub model named by its branch is now
            # downloaded at a known commit): store under the key the next lookup will compute.
            key = self.cache_key(spec, recipe, inputs, ctx)
            self.db.cache_put(key, spec.name, [digest for _, digest in outputs])
        environment = {**self.runtime.environment, **ctx.environment}
        return Execution(outputs, False, time.perf_counter() - started, key, spec.provenance, environment)

    def _kind_of(self, digest: str) -> LayerKind:
        # Outputs are normalised so that masks, and only masks, are single-channel PNGs.
        with Image.open(self.blobs.path(digest)) as image:
            return "mask" if image.mode == "L" else "image"

    def _load(self, op: str, inputs: InputBlobs) -> dict[str, Layer | list[Layer]]:
        """The input layers, each distinct blob decoded once (a ``flatten`` of 64 inputs naming
        one layer holds one copy of its pixels), after checking they fit the pixel budget."""
        digests = dict.fromkeys(
            digest
            for value in inputs.values()
            for _, digest in (value if isinstance(value, list) else [value])
        )
        budget = self.runtime.settings.pixel_budget
        check_pixel_budget((self.blobs.image_size(d) for d in digests), budget, f"running {op}")
        images: dict[str, Image.Image] = {}

        def layer(kind: LayerKind, digest: str) -> Layer:
            if digest not in images:
                images[digest] = self.blobs.get_image(digest)
            cls = MaskLayer if kind == "mask" else ImageLayer
            return cls(image=images[digest])

        return {
            name: [layer(*pair) for pair in value] if isinstance(value, list) else layer(*value)
            for name, value in inputs.items()
        }
