"""Import of the original Opendream's workflow JSON: a dict of entries in canvas order,
``{"0": {"op", "params": [positional args], "options": {kwargs}, "image": data URI}, ...}``,
where a positional arg or kwarg equal to an earlier entry's key names that entry's layer.

Mapping (docs/workflow.md): entry ``k`` (k-th, from 0) becomes layer ``L{k+1}``; positional
args follow the op's parameter order; each entry's image is carried as an asset and
recorded as the layer's expected result; ``mask_from_data_URI(URI)`` becomes a
``paint_mask`` layer; the app's painted ``mask`` and uploaded ``load_image`` entries and
``load_image_from_path(path)`` become source layers of their recorded image (a path from a
file is never opened). Params then go through the op's migration from ``"original"``
(``OpSpec.upgrade_params``), the one place where the original's names become ours. The original stored every output of
a multi-output op (e.g. SAM's masks) as its own entry with the same metadata, so
consecutive identical entries become one group with increasing ``output_index``."""

from __future__ import annotations

import inspect
from typing import Any

from PIL import Image

from opendream.core.errors import InvalidParams, OpNotFound, WorkflowError
from opendream.core.images import encode_png
from opendream.core.project import MAX_LAYERS, MAX_SIZE, MIN_SIZE, default_name
from opendream.core.recipe import LayerKind, LayerState, asset_ref, canonical_json, sha256_hex
from opendream.core.registry import ORIGINAL, OpRegistry, OpSpec
from opendream.core.workflow_common import (
    MAX_DEPTH,
    MAX_WORKFLOW_BYTES,
    ImportedWorkflow,
    PixelBudget,
    build_project,
    check_against,
    decode_data_uri,
    initial_state,
    load_json,
    validated_recipe,
)

SOURCE_OPS = {
    "mask_from_data_URI": "paint_mask",
    "load_image_from_path": "load_image",
    "mask": "paint_mask",  # the app's painted mask: {"op": "mask", "image": URI}
    "load_image": "load_image",  # the app's uploaded picture: {"op": "load_image", "image": URI}
}
# Source entries whose pixels are the entry's recorded image.
RECORDED_IMAGE_OPS = {"load_image_from_path", "mask", "load_image"}
IMPORTED_NAME = "Imported Opendream workflow"

_SCHEMA = {
    "type": "object",
    "minProperties": 1,
    "propertyNames": {"maxLength": 100},
    "additionalProperties": {
        "type": "object",
        "required": ["op"],
        "properties": {
            "op": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,99}$"},
            "params": {"type": "array", "maxItems": 100},
            "options": {"type": "object", "maxProperties": 100},
            "image": {"type": "string", "pattern": "^data:image/"},
        },
    },
}


def parse_original_workflow(
    data: bytes | str | dict,
    registry: OpRegistry,
    *,
    max_bytes: int = MAX_WORKFLOW_BYTES,
    max_depth: int = MAX_DEPTH,
    max_layers: int = MAX_LAYERS,
) -> ImportedWorkflow:
    """Validate an original Opendream workflow completely, then build a fresh project from it."""
    document = load_json(data, max_bytes=max_bytes, max_depth=max_depth)
    if isinstance(document, dict) and len(document) > max_layers:
        raise WorkflowError(f"workflow has {len(document)} layers; the limit is {max_layers}")
    check_against(_SCHEMA, document, "not an original Opendream workflow: a problem")
    keys = list(document)
    ids = {key: f"L{index + 1}" for index, key in enumerate(keys)}
    op_names = {key: SOURCE_OPS.get(document[key]["op"], document[key]["op"]) for key in keys}
    missing = registry.missing(list(op_names.values()))
    if missing:
        raise OpNotFound(missing)

    budget = PixelBudget()
    assets: dict[str, bytes] = {}
    images: dict[str, str | None] = {}
    sizes: list[tuple[int, int]] = []
    masks: set[str] = set()  # entries that look like masks: single-channel image, or used as one
    for key in keys:
        images[key] = None
        if "image" in document[key]:
            is_mask = op_names[key] == "paint_mask"
            digest, image = _carry(document[key]["image"], f"entry {key!r}: image", budget, assets, is_mask)
            images[key] = digest
            sizes.append(image.size)
            if image.mode in ("1", "L", "LA"):
                masks.add(key)

    calls: dict[str, tuple[OpSpec, dict, dict]] = {}
    for position, key in enumerate(keys):
        entry, spec = document[key], registry.get(op_names[key])
        where = f"entry {key!r} ({entry['op']})"
        args = _named_args(where, spec, entry.get("params", []), entry.get("options", {}))
        if entry["op"] == "mask_from_data_URI":
            uri = args.get("URI", args.get("asset"))
            if not isinstance(uri, str):
                raise WorkflowError(f"{where}: needs the mask as a data URI")
            digest, _ = _carry(uri, f"{where}: mask", budget, assets, True)
            calls[key] = (spec, {"asset": asset_ref(digest)}, {})
        elif entry["op"] in RECORDED_IMAGE_OPS:
            if images[key] is None:
                why = " (a path in a file is never read)" if entry["op"] == "load_image_from_path" else ""
                raise WorkflowError(f"{where}: has no recorded image{why}")
            calls[key] = (spec, {"asset": asset_ref(images[key])}, {})
        else:
            earlier = {k: ids[k] for k in keys[:position]}
            calls[key] = (spec, *_split(where, spec, args, earlier))
    for spec, _params, inputs in calls.values():
        for param in spec.layer_params:
            if param.kind == "mask" and param.name in inputs:
                value = inputs[param.name]
                masks.update(k for k in keys if ids[k] in (value if isinstance(value, list) else [value]))

    kinds: dict[str, LayerKind] = {ids[key]: _kind(calls[key][0], key in masks) for key in keys}
    layers: list[LayerState] = []
    expected: dict[str, str | None] = {}
    previous: tuple[str, LayerState] | None = None
    for key in keys:
        spec, params, inputs = calls[key]
        same_run = (
            previous is not None
            and document[key]["op"] not in SOURCE_OPS
            and _call_key(document[key]) == previous[0]
        )
        group, index = (previous[1].group, previous[1].recipe.output_index + 1) if same_run else (ids[key], 0)
        where = f"entry {key!r} ({document[key]['op']})"
        recipe = validated_recipe(where, spec, params, inputs, kinds, index)
        status, blob = initial_state(spec, images[key], assets)
        layer = LayerState(
            id=ids[key],
            name=default_name(spec, recipe.params) + ("" if index == 0 else f" #{index + 1}"),
            kind=kinds[ids[key]],
            recipe=recipe,
            group=group,
            status=status,  # type: ignore[arg-type]
            blob=blob,
        )
        layers.append(layer)
        expected[layer.id] = images[key]
        previous = (_call_key(document[key]), layer)

    width, height = _canvas(sizes)
    return ImportedWorkflow(build_project(IMPORTED_NAME, width, height, layers), assets, expected)


def _carry(
    uri: str, what: str, budget: PixelBudget, assets: dict[str, bytes], mask: bool = False
) -> tuple[str, Image.Image]:
    """Decode an image URI into a canonical PNG asset; returns its hash and the image.
    Re-encoding makes the hash the one the engine gives the same pixels; a painted mask
    (the app drew it on an opaque RGBA canvas) is greyscale, as a mask layer is."""
    image = budget.check(decode_data_uri(uri, what), what, png_only=False)
    if mask and image.mode != "L":
        image = image.convert("L")
    png = encode_png(image)
    digest = sha256_hex(png)
    assets[digest] = png
    return digest, image


def _named_args(where: str, spec: OpSpec, positional: list, options: dict) -> dict[str, Any]:
    """Positional args onto the op's parameter order, then the kwargs."""
    if len(positional) > len(spec.param_order):
        raise WorkflowError(
            f"{where}: {len(positional)} positional arguments but op {spec.name!r} takes "
            f"{len(spec.param_order)} ({', '.join(spec.param_order)})"
        )
    named = dict(zip(spec.param_order, positional, strict=False))
    for name, value in options.items():
        if name in named:
            raise WorkflowError(f"{where}: `{name}` is given both by position and by name")
        named[name] = value
    return named


def _split(where: str, spec: OpSpec, args: dict[str, Any], earlier: dict[str, str]) -> tuple[dict, dict]:
    """(params, inputs): layer arguments become inputs (entry keys -> layer ids); the rest,
    after the op's own migration from ``"original"``, are params."""
    inputs: dict[str, Any] = {}
    params = {}
    for name, value in args.items():
        if name not in spec.layer_param_names:
            params[name] = value
            continue
        refs = value if isinstance(value, list) else [value]
        unknown = [r for r in refs if not isinstance(r, str) or r not in earlier]
        if unknown:
            raise WorkflowError(f"{where}: `{name}` refers to {unknown[0]!r}, which is not an earlier entry")
        inputs[name] = [earlier[r] for r in refs] if isinstance(value, list) else earlier[value]
    try:
        params = spec.upgrade_params(dict(params), ORIGINAL)
    except InvalidParams as exc:
        raise WorkflowError(f"{where}: {exc.message}") from None
    except Exception as exc:  # a third-party migration may raise anything: report, don't crash
        raise WorkflowError(f"{where}: cannot convert the original params: {exc}") from None
    # The original recorded the machine it ran on ("mps", "cpu"), not a choice: use the runtime's.
    params.pop("device", None)
    return params, inputs


def _kind(spec: OpSpec, looks_like_mask: bool) -> LayerKind:
    """The op's declared kind; original ops often declare no return type, and then a layer
    that looks like a mask is one."""
    if spec.returns_masks:
        return "mask"
    undeclared = inspect.signature(spec.func).return_annotation is inspect.Signature.empty
    return "mask" if undeclared and looks_like_mask else "image"


def _call_key(entry: dict) -> str:
    return canonical_json([entry["op"], entry.get("params", []), entry.get("options", {})])


def _canvas(sizes: list[tuple[int, int]]) -> tuple[int, int]:
    """The largest recorded image, within the canvas limits; 512x512 when none was recorded."""
    width = max((w for w, _ in sizes), default=512)
    height = max((h for _, h in sizes), default=512)
    return min(max(width, MIN_SIZE), MAX_SIZE), min(max(height, MIN_SIZE), MAX_SIZE)
