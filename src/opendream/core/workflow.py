"""Workflow files (``format: "opendream.workflow"``): the portable, versioned JSON form of a
project, and import from every form a user may hand us (v1 JSON, an exported PNG, the
original Opendream's JSON). The format is described in docs/workflow.md.

Pure functions: the blob store is a callable, and an import returns the project and the
asset bytes for the caller to store only once every check has passed."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources
from typing import Any, Literal

from opendream.core import provenance
from opendream.core.errors import OpNotFound, WorkflowError
from opendream.core.placement import Placement
from opendream.core.project import MAX_LAYERS, Project
from opendream.core.recipe import LayerState, RunRecord, asset_digest, asset_ref, sha256_hex
from opendream.core.registry import OpRegistry
from opendream.core.workflow_common import (
    MAX_DEPTH,
    MAX_WORKFLOW_BYTES,
    ImportedWorkflow,
    PixelBudget,
    asset_refs,
    build_project,
    check_against,
    decode_data_uri,
    initial_state,
    load_json,
    png_data_uri,
    validated_recipe,
)
from opendream.core.workflow_original import parse_original_workflow
from opendream.core.workflow_png import (
    PNG_SIGNATURE,
    a1111_parameters,
    embed_workflow_png,
    extract_workflow_png,
    strip_workflow_png,
    workflow_png,
)

FORMAT = "opendream.workflow"
VERSION = 2


def _v1_to_v2(document: dict) -> dict:
    # Version 2 added each layer's placement, blend mode and layer mask; their defaults draw a
    # layer as version 1 did (top-left, unscaled, normal, no mask).
    return {**document, "version": 2}


# version -> function upgrading a document of that version to the next one.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {1: _v1_to_v2}


@cache
def schema() -> dict:
    """The JSON Schema of the current version (docs/workflow.schema.json is a copy)."""
    text = resources.files("opendream.core").joinpath("workflow.schema.json").read_text("utf-8")
    return json.loads(text)


# --- export ------------------------------------------------------------------------------------


def export_workflow(
    project: Project,
    registry: OpRegistry,
    read_blob: Callable[[str], bytes],
    *,
    embed: Literal["assets", "all"] = "assets",
    environment: dict | None = None,
    sources: Mapping[str, Mapping[str, str]] | None = None,
) -> dict:
    """The project as a workflow document of the current version. ``read_blob(hex)`` returns a blob's bytes.
    Each layer names the extension that made it (built-ins name none; an override of a built-in
    op also names what it ``overrides``) and, when ``sources`` (extension name ->
    ``{"url", "sha256"}``) has it, where that extension was installed from.

    ``assets`` carries what cannot be recomputed: every blob a param names (``sha256:<hex>``),
    and the results of non-deterministic (or unknown) ops; ``embed="all"`` adds every result.
    Only ``ready`` layers record a result: a stale blob does not match its recipe."""
    if embed not in ("assets", "all"):
        raise ValueError(f"embed has to be 'assets' or 'all', not {embed!r}")
    layers = []
    wanted: set[str] = set()
    for layer in project.layers:
        recipe = layer.recipe
        spec = registry.ops.get(recipe.op)
        result = layer.blob if layer.status == "ready" else None
        entry: dict[str, Any] = {
            "id": layer.id,
            "name": layer.name,
            "kind": layer.kind,
            "op": recipe.op,
            "op_version": recipe.op_version,
        }
        made_by = layer.run.made_by  # what made (or, imported, what the file says made) the layer
        if made_by is None and spec is not None:
            made_by = spec.provenance
        if made_by:
            entry.update(made_by)
            if sources and made_by["extension"] in sources:
                source = sources[made_by["extension"]]
                entry["extension_source"] = {"url": source["url"], "sha256": source["sha256"]}
        entry["params"] = copy.deepcopy(recipe.params)
        entry["inputs"] = copy.deepcopy(recipe.inputs)
        if recipe.output_index:
            entry["output_index"] = recipe.output_index
        if layer.group != layer.id:
            entry["group"] = layer.group
        entry.update(
            visible=layer.visible,
            opacity=layer.opacity,
            placement=layer.placement.to_dict(),
            blend=layer.blend,
            mask=layer.mask,
            result=asset_ref(result) if result else None,
        )
        layers.append(entry)
        wanted |= asset_refs(recipe.params)
        if result and (embed == "all" or spec is None or not spec.deterministic):
            wanted.add(result)
    assets = {}
    for digest in sorted(wanted):
        data = read_blob(digest)
        if sha256_hex(data) != digest:
            raise WorkflowError(f"blob {digest} does not match its hash; cannot export it")
        assets[asset_ref(digest)] = png_data_uri(data)
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "name": project.name,
        "canvas": {"width": project.width, "height": project.height},
        "layers": layers,
        "assets": assets,
    }
    if environment is not None:
        document["environment"] = copy.deepcopy(environment)
    return document


# --- import ------------------------------------------------------------------------------------


def parse_workflow(
    data: bytes | str | dict,
    registry: OpRegistry,
    *,
    max_bytes: int = MAX_WORKFLOW_BYTES,
    max_depth: int = MAX_DEPTH,
    max_layers: int = MAX_LAYERS,
) -> ImportedWorkflow:
    """Validate a workflow document completely, then build a fresh project from it.

    Raises ``WorkflowError`` naming the problem, or ``OpNotFound`` naming every missing op."""
    document = upgrade(load_json(data, max_bytes=max_bytes, max_depth=max_depth))
    if isinstance(document.get("layers"), list) and len(document["layers"]) > max_layers:
        raise WorkflowError(f"workflow has {len(document['layers'])} layers; the limit is {max_layers}")
    check_schema(document)
    entries: list[dict] = document["layers"]

    seen: set[str] = set()
    for entry in entries:
        if entry["id"] in seen:
            raise WorkflowError(f"layer id {entry['id']!r} is used by more than one layer")
        seen.add(entry["id"])
    missing_ops = registry.missing([entry["op"] for entry in entries])
    if missing_ops:
        raise OpNotFound(missing_ops, _origins(entries))
    by_id = {entry["id"]: entry for entry in entries}
    for entry in entries:
        _check_links(entry, by_id)
    _check_acyclic(entries)

    kinds = {entry["id"]: entry["kind"] for entry in entries}
    recipes = {}
    for entry in entries:
        spec = registry.get(entry["op"])
        try:
            params = spec.upgrade_params(entry["params"], entry["op_version"])
        except Exception as exc:  # a third-party migration may raise anything: report, don't crash
            raise WorkflowError(
                f"layer {entry['id']!r}: cannot upgrade op {spec.name!r} from version "
                f"{entry['op_version']!r} to {spec.version!r}: {getattr(exc, 'message', exc)}"
            ) from None
        recipe = validated_recipe(
            f"layer {entry['id']!r}",
            spec,
            params,
            entry.get("inputs", {}),
            kinds,
            entry.get("output_index", 0),
            (document["canvas"]["width"], document["canvas"]["height"]),
        )
        recipes[entry["id"]] = recipe

    carried = {asset_digest(ref): uri for ref, uri in document.get("assets", {}).items()}
    used = {asset_digest(entry["result"]) for entry in entries if entry.get("result")}
    for layer_id, recipe in recipes.items():
        named = asset_refs(recipe.params)
        absent = sorted(named - carried.keys())
        if absent:
            names = ", ".join(asset_ref(x) for x in absent)
            raise WorkflowError(f"layer {layer_id!r} names assets the file does not carry: {names}")
        used |= named
    # Assets no layer uses are ignored: nothing is decoded or stored that the project does not need.
    assets = _decode_assets({digest: uri for digest, uri in carried.items() if digest in used})

    layers = []
    expected: dict[str, str | None] = {}
    notes: dict[str, str] = {}
    for entry in entries:
        result = asset_digest(entry["result"]) if entry.get("result") else None
        expected[entry["id"]] = result
        made_by = provenance.recorded(entry)
        note = provenance.mismatch(made_by, registry.get(entry["op"]))
        if note is not None:
            notes[entry["id"]] = note
        status, blob = initial_state(registry.get(entry["op"]), result, assets)
        layers.append(
            LayerState(
                id=entry["id"],
                name=entry["name"].strip(),
                kind=entry["kind"],
                recipe=recipes[entry["id"]],
                group=entry.get("group", entry["id"]),
                status=status,  # type: ignore[arg-type]
                blob=blob,
                visible=entry.get("visible", True),
                opacity=float(entry.get("opacity", 1.0)),
                run=RunRecord(made_by=made_by),
                placement=Placement.from_dict(entry.get("placement")),
                blend=entry.get("blend", "normal"),
                mask=entry.get("mask"),
            )
        )
    project = build_project(
        document["name"], document["canvas"]["width"], document["canvas"]["height"], layers
    )
    return ImportedWorkflow(project, assets, expected, document.get("environment"), notes)


def _origins(entries: list[dict]) -> dict[str, str]:
    """Op -> where the file says it comes from: ``extension 'bar' from <url> sha256 <hex>``."""
    origins: dict[str, str] = {}
    for entry in entries:
        if entry["op"] in origins or "extension" not in entry:
            continue
        origin = f"extension {entry['extension']!r}"
        source = entry.get("extension_source")
        if source:
            origin += f" from {source['url']} sha256 {source['sha256']}"
        origins[entry["op"]] = origin
    return origins


def upgrade(document: Any) -> dict:
    """Check ``format`` and ``version``; bring an older version up to the current one."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise WorkflowError(f'not an Opendream workflow: expected "format": "{FORMAT}"')
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise WorkflowError(f"workflow version has to be an integer, not {version!r}")
    if version > VERSION:
        raise WorkflowError(
            f"workflow version {version} was written by a newer Opendream; this one reads up to {VERSION}"
        )
    while version < VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise WorkflowError(f"workflow version {version} is not supported (supported: 1 to {VERSION})")
        document = step(document)
        if document.get("version") != version + 1:
            raise WorkflowError(
                f"the migration from workflow version {version} did not produce {version + 1}"
            )
        version += 1
    return document


def check_schema(document: dict) -> None:
    """Validate against the JSON Schema; the message names where the first problem is."""
    check_against(schema(), document, "workflow does not match its schema")


def _check_links(entry: dict, by_id: dict[str, dict]) -> None:
    for param, value in entry.get("inputs", {}).items():
        for input_id in value if isinstance(value, list) else [value]:
            if input_id not in by_id:
                raise WorkflowError(
                    f"layer {entry['id']!r}: input `{param}` refers to layer {input_id!r}, "
                    "which is not in the workflow"
                )
    group = entry.get("group")
    if group is not None and group != entry["id"]:
        head = by_id.get(group)
        if head is None or head["op"] != entry["op"] or head.get("group", group) != group:
            raise WorkflowError(
                f"layer {entry['id']!r}: group {group!r} is not an earlier output of the same {entry['op']!r} run"
            )
    mask = entry.get("mask")
    if mask is not None and (entry["kind"] != "image" or by_id.get(mask, {}).get("kind") != "mask"):
        raise WorkflowError(
            f"layer {entry['id']!r}: layer mask {mask!r} has to be a mask layer of the workflow, "
            "attached to an image layer"
        )


def _check_acyclic(entries: list[dict]) -> None:
    """Iterative depth-first search; a cycle is reported as the path that closes it."""
    edges = {
        e["id"]: [i for v in e.get("inputs", {}).values() for i in (v if isinstance(v, list) else [v])]
        for e in entries
    }
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in edges:
        if root in state:
            continue
        path = [root]
        iterators = [iter(edges[root])]
        state[root] = 1
        while iterators:
            child = next(iterators[-1], None)
            if child is None:
                state[path.pop()] = 2
                iterators.pop()
            elif state.get(child) == 1:
                cycle = [*path[path.index(child) :], child]
                raise WorkflowError(f"layer inputs form a cycle: {' -> '.join(cycle)}")
            elif child not in state:
                state[child] = 1
                path.append(child)
                iterators.append(iter(edges[child]))


def _decode_assets(carried: dict[str, str]) -> dict[str, bytes]:
    """Every carried asset decoded and checked: a PNG within the pixel limits whose sha256 is
    its name. The original bytes are kept, so the name stays their hash."""
    budget = PixelBudget()
    assets = {}
    for digest, uri in sorted(carried.items()):
        what = f"asset sha256:{digest[:12]}…"
        data = decode_data_uri(uri, what)
        if sha256_hex(data) != digest:
            raise WorkflowError(f"{what} does not match its hash (the file is corrupt or was edited)")
        budget.check(data, what, png_only=True)
        assets[digest] = data
    return assets


# --- any input ---------------------------------------------------------------------------------


def detect_format(data: bytes | str | dict) -> Literal["workflow", "original", "png"]:
    """Which reader ``data`` needs: an Opendream workflow, the original Opendream's JSON, or a PNG."""
    if isinstance(data, bytes | bytearray) and bytes(data[:8]) == PNG_SIGNATURE:
        return "png"
    return _document_format(load_json(data))


def _document_format(document: Any) -> Literal["workflow", "original"]:
    if isinstance(document, dict) and "format" in document:
        return "workflow"
    if (
        isinstance(document, dict)
        and document
        and all(isinstance(v, dict) and "op" in v for v in document.values())
    ):
        return "original"
    raise WorkflowError(
        "not a workflow: expected an Opendream workflow, an original Opendream workflow or an exported PNG"
    )


def import_any(data: bytes, registry: OpRegistry) -> ImportedWorkflow:
    """Import a workflow JSON, a self-contained JSON, an exported PNG or an original Opendream JSON."""
    if data[:8] == PNG_SIGNATURE:
        return parse_workflow(extract_workflow_png(data), registry)
    document = load_json(data)
    if _document_format(document) == "original":
        return parse_original_workflow(document, registry)
    return parse_workflow(document, registry)


__all__ = [
    "FORMAT",
    "MAX_DEPTH",
    "MAX_WORKFLOW_BYTES",
    "MIGRATIONS",
    "VERSION",
    "ImportedWorkflow",
    "a1111_parameters",
    "check_schema",
    "detect_format",
    "embed_workflow_png",
    "export_workflow",
    "extract_workflow_png",
    "import_any",
    "parse_original_workflow",
    "parse_workflow",
    "schema",
    "strip_workflow_png",
    "upgrade",
    "workflow_png",
]
