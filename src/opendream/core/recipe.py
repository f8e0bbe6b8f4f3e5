"""Recipes and the values that describe a layer: pure data, JSON round-trippable."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from opendream.core.placement import BlendMode, Placement

LayerStatus = Literal["pending", "running", "ready", "stale", "failed", "cancelled"]
LayerKind = Literal["image", "mask"]
Inputs = dict[str, str | list[str]]

ASSET_PREFIX = "sha256:"


def canonical_json(value: Any) -> str:
    """Stable JSON text: sorted keys, no whitespace, so equal values hash equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def asset_ref(digest: str) -> str:
    return ASSET_PREFIX + digest


def asset_digest(ref: str) -> str:
    """``sha256:<hex>`` -> ``<hex>``; raises ValueError for anything else."""
    digest = ref.removeprefix(ASSET_PREFIX)
    if (
        not ref.startswith(ASSET_PREFIX)
        or len(digest) != 64
        or not all(c in "0123456789abcdef" for c in digest)
    ):
        raise ValueError(f"{ref!r} is not an asset reference of the form sha256:<64 hex digits>")
    return digest


@dataclass
class Recipe:
    """How a layer is made: op, version, validated params, input layer ids, and which output."""

    op: str
    op_version: str
    params: dict[str, Any]
    inputs: Inputs = field(default_factory=dict)
    output_index: int = 0

    def input_ids(self) -> list[str]:
        ids: list[str] = []
        for value in self.inputs.values():
            ids.extend(value if isinstance(value, list) else [value])
        return ids

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Recipe:
        return cls(
            op=data["op"],
            op_version=str(data["op_version"]),
            params=dict(data.get("params", {})),
            inputs={k: (list(v) if isinstance(v, list) else v) for k, v in data.get("inputs", {}).items()},
            output_index=int(data.get("output_index", 0)),
        )


@dataclass
class RunRecord:
    """What happened the last time a layer ran."""

    duration: float | None = None
    cache_hit: bool = False
    environment: dict[str, Any] | None = None
    error: str | None = None
    job: str | None = None
    #: What made the pixels: ``{}`` a built-in op, else ``{"extension", "overrides"?}`` (see
    #: core/provenance.py); ``None`` when unknown. ``note`` says when a run changed it.
    made_by: dict[str, str] | None = None
    note: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> RunRecord:
        return cls(**(data or {}))


@dataclass
class LayerState:
    """A node of the project DAG. ``group`` is the id of the first layer made by the same run
    of the same recipe (multi-output ops make several layers that share one recipe)."""

    id: str
    name: str
    kind: LayerKind
    recipe: Recipe
    group: str
    status: LayerStatus = "pending"
    blob: str | None = None
    visible: bool = True
    opacity: float = 1.0
    run: RunRecord = field(default_factory=RunRecord)
    placement: Placement = field(default_factory=Placement)
    blend: BlendMode = "normal"
    #: A mask layer attached as this layer's layer mask (its luminance scales the alpha).
    mask: str | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["recipe"] = self.recipe.to_dict()
        data["run"] = self.run.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> LayerState:
        return cls(
            id=data["id"],
            name=data["name"],
            kind=data["kind"],
            recipe=Recipe.from_dict(data["recipe"]),
            group=data.get("group", data["id"]),
            status=data.get("status", "pending"),
            blob=data.get("blob"),
            visible=bool(data.get("visible", True)),
            opacity=float(data.get("opacity", 1.0)),
            run=RunRecord.from_dict(data.get("run")),
            placement=Placement.from_dict(data.get("placement")),
            blend=data.get("blend", "normal"),
            mask=data.get("mask"),
        )
