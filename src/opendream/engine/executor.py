"""Runs one recipe: cache lookup, op call with a Context, output storage.

This is the seam a remote executor implements (``ray_executor.py``: one Ray actor per GPU): it
takes a recipe and its input blob hashes and gives back output blob hashes. Its two halves are
reusable apart: ``Executor.execute`` keeps the server's part (cache, consent, pixel budget,
storing outputs) and calls ``compute``; ``decode_layers`` and ``run_op`` are the compute part,
run in this process or in an actor."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image

from opendream.core.context import Context
from opendream.core.errors import ConsentRequired, OpFailed
from opendream.core.images import check_pixel_budget, encode_png
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
class Computed:
    """What running an op gave: its outputs as stored PNG bytes, the environment it ran in, and
    its identity after the run (the cache key is computed from it, where the cache is)."""

    outputs: list[tuple[LayerKind, bytes]]
    environment: dict[str, Any]
    identity: Any


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
        return make_context(
            spec, self.runtime, hooks, trust, lambda ref: self.blobs.get_image(asset_digest(ref))
        )

    def cache_key(self, spec: OpSpec, recipe: Recipe, inputs: InputBlobs, identity: Any) -> str:
        """sha256 of the canonical JSON of everything that determines the outputs."""
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
        ``ConsentRequired`` before a file's recipe would reach a remote service unasked.

        The server's part (cache, consent, pixel budget, storing) happens here; the op itself
        runs in ``compute``, which a remote executor sends elsewhere."""
        started = time.perf_counter()
        spec = self.registry.get(recipe.op)
        ctx = self.context(spec, hooks, trust)
        key = self.cache_key(spec, recipe, inputs, op_identity(spec, recipe, ctx))
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
        digests = input_digests(inputs)
        budget = self.runtime.settings.pixel_budget
        check_pixel_budget((self.blobs.image_size(d) for d in digests), budget, f"running {spec.name}")
        computed = self.compute(spec, recipe, inputs, hooks, trust)
        outputs: list[tuple[LayerKind, str]] = [(kind, self.blobs.put(png)) for kind, png in computed.outputs]
        if cacheable:
            # Running can pin the identity down (a hub model named by its branch is now
            # downloaded at a known commit): store under the key the next lookup will compute.
            key = self.cache_key(spec, recipe, inputs, computed.identity)
            self.db.cache_put(key, spec.name, [digest for _, digest in outputs])
        return Execution(
            outputs, False, time.perf_counter() - started, key, spec.provenance, computed.environment
        )

    def compute(
        self, spec: OpSpec, recipe: Recipe, inputs: InputBlobs, hooks: Hooks, trust: Trust
    ) -> Computed:
        """Run the op here, in this process."""
        ctx = self.context(spec, hooks, trust)
        layers = decode_layers(spec, inputs, self.blobs.get_image)
        return run_op(spec, recipe, layers, ctx, self.runtime.environment)

    @property
    def parallelism(self) -> int:
        """How many recipes this executor runs at once (the server runs as many job workers)."""
        return 1

    def close(self) -> None:
        """Release what the executor holds (an in-process one holds nothing of its own)."""

    def _kind_of(self, digest: str) -> LayerKind:
        # Outputs are normalised so that masks, and only masks, are single-channel PNGs.
        with Image.open(self.blobs.path(digest)) as image:
            return "mask" if image.mode == "L" else "image"


def make_context(
    spec: OpSpec, runtime: Runtime, hooks: Hooks, trust: Trust, load_asset: Callable[[str], Image.Image]
) -> Context:
    """The ``Context`` an op runs with in ``runtime``, reporting through ``hooks``."""
    models = runtime.models
    if trust.from_file and models is not None:
        # A file's recipe sees only the model folders, and downloads only with consent.
        models = models.for_file(allow_download=trust.consented)
    return Context(
        op_name=spec.name,
        device=runtime.device,
        dtype=runtime.dtype,
        models=models,
        settings=runtime.settings,
        on_progress=hooks.progress,
        cancel_event=hooks.cancel,
        load_asset=load_asset,
        on_download=hooks.download,
        on_status=hooks.status,
    )


def op_identity(spec: OpSpec, recipe: Recipe, ctx: Context) -> Any:
    """What the op says pins its outputs beyond params and inputs (e.g. a model's commit)."""
    return spec.identity(recipe.params, ctx) if spec.identity else None


def input_digests(inputs: InputBlobs) -> list[str]:
    """The distinct blobs ``inputs`` name, in order."""
    return list(
        dict.fromkeys(
            digest
            for value in inputs.values()
            for _, digest in (value if isinstance(value, list) else [value])
        )
    )


def decode_layers(
    spec: OpSpec, inputs: InputBlobs, read: Callable[[str], Image.Image]
) -> dict[str, Layer | list[Layer] | None]:
    """The op's input layers, each distinct blob decoded once (a ``flatten`` of 64 inputs naming
    one layer holds one copy of its pixels); a layer parameter without input gets ``None``
    (or ``[]``)."""
    images: dict[str, Image.Image] = {}

    def layer(kind: LayerKind, digest: str) -> Layer:
        if digest not in images:
            images[digest] = read(digest)
        cls = MaskLayer if kind == "mask" else ImageLayer
        return cls(image=images[digest])

    layers: dict[str, Layer | list[Layer] | None] = {
        name: [layer(*pair) for pair in value] if isinstance(value, list) else layer(*value)
        for name, value in inputs.items()
    }
    for param in spec.layer_params:
        layers.setdefault(param.name, [] if param.many else None)
    return layers


def run_op(
    spec: OpSpec,
    recipe: Recipe,
    layers: dict[str, Layer | list[Layer] | None],
    ctx: Context,
    environment: dict[str, Any],
) -> Computed:
    """Call the op and encode its results: the compute part of a run, wherever it happens.
    ``environment`` is the runtime's; an out-of-memory or an extension's known mistake becomes
    an ``OpFailed`` that says what to do."""
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
    return Computed(
        outputs=[(r.kind, encode_png(r.image)) for r in results],
        environment={**environment, **ctx.environment},
        identity=op_identity(spec, recipe, ctx),
    )
