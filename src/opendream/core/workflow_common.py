"""Pieces shared by the workflow readers (v1 JSON, PNG, original Opendream): bounded JSON
loading, PNG data URIs, recipe validation and assembling the imported project.

Everything here validates; nothing touches storage. A reader builds the whole result only
after every check passed, so a bad file leaves nothing behind."""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match
from PIL import Image

from opendream.core.errors import ImageRejected, InvalidParams, WorkflowError
from opendream.core.images import decode_image
from opendream.core.project import Project
from opendream.core.recipe import LayerKind, LayerState, Recipe
from opendream.core.registry import OpSpec

MAX_WORKFLOW_BYTES = 50 * 1024 * 1024
MAX_DEPTH = 32
# Total decoded pixels over all assets of one file: bounds the work a small, highly
# compressed file can cause (each image is also bounded by images.MAX_PIXELS).
MAX_ASSET_PIXELS = 1024 * 1024 * 1024
PNG_DATA_URI = "data:image/png;base64,"
ASSET_REF_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass
class ImportedWorkflow:
    """A validated workflow, ready to store: ``assets`` (blob hex -> PNG bytes) go into the
    blob store, then ``project`` is saved; ``expected`` holds the result hash the file
    recorded for each layer (``None`` when it recorded none), for the replay report; ``notes``
    says, per layer, when the op here is not what the file says made it (an override)."""

    project: Project
    assets: dict[str, bytes] = field(default_factory=dict)
    expected: dict[str, str | None] = field(default_factory=dict)
    environment: dict | None = None
    notes: dict[str, str] = field(default_factory=dict)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def load_json(
    data: bytes | str | dict, *, max_bytes: int = MAX_WORKFLOW_BYTES, max_depth: int = MAX_DEPTH
) -> Any:
    """Parse untrusted JSON: size checked before parsing, nesting depth checked after."""
    if isinstance(data, dict):
        document: Any = data
    else:
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        if len(raw) > max_bytes:
            raise WorkflowError(f"workflow is too large: {len(raw)} bytes; the limit is {max_bytes}")
        try:
            document = json.loads(raw, parse_constant=_reject_constant)
        except RecursionError:
            raise WorkflowError(f"workflow is too deeply nested (more than {max_depth} levels)") from None
        except ValueError as exc:  # JSONDecodeError, bad UTF-8, ints over 4300 digits, NaN
            raise WorkflowError(f"workflow is not valid JSON: {exc}") from None
    check_depth(document, max_depth)
    return document


def check_depth(document: Any, max_depth: int) -> None:
    """Iterative, so a hostile document cannot exhaust the Python stack."""
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > max_depth:
                raise WorkflowError(f"workflow is too deeply nested (more than {max_depth} levels)")
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)


def check_against(schema: dict, document: Any, problem: str) -> None:
    """Validate with JSON Schema; the error names where the first problem is."""
    error = best_match(jsonschema.Draft202012Validator(schema).iter_errors(document))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        message = error.message
        if len(message) > 200:  # jsonschema quotes the whole value; say which rule failed instead
            message = f"the value fails `{error.validator}: {json.dumps(error.validator_value)[:100]}`"
        raise WorkflowError(f"{problem} at `{where}`: {message}")


def png_data_uri(data: bytes) -> str:
    return PNG_DATA_URI + base64.b64encode(data).decode("ascii")


def decode_data_uri(uri: str, what: str) -> bytes:
    """The bytes of a base64 ``data:image/...`` URI (not yet checked to be an image)."""
    header, sep, payload = uri.partition(",")
    if not sep or not header.startswith("data:image/") or not header.endswith(";base64"):
        raise WorkflowError(f"{what} is not a base64 data:image URI")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise WorkflowError(f"{what} is not valid base64") from None


class PixelBudget:
    """Validates images one by one while counting their pixels against ``MAX_ASSET_PIXELS``."""

    def __init__(self, limit: int = MAX_ASSET_PIXELS) -> None:
        self.left = limit

    def check(self, data: bytes, what: str, *, png_only: bool) -> Image.Image:
        try:
            image = decode_image(data)
        except ImageRejected as exc:
            raise WorkflowError(f"{what}: {exc.message}") from None
        if png_only and image.format != "PNG":
            raise WorkflowError(f"{what} is a {image.format} image; workflow assets are PNG")
        self.left -= image.width * image.height
        if self.left < 0:
            raise WorkflowError(
                f"the images of this workflow hold more than {MAX_ASSET_PIXELS} pixels in all"
            )
        return image


def asset_refs(value: Any) -> set[str]:
    """Hex digests of every ``sha256:<hex>`` string anywhere in ``value`` (params are JSON)."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and ASSET_REF_RE.match(item):
            found.add(item.removeprefix("sha256:"))
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def validated_recipe(
    where: str,
    spec: OpSpec,
    params: dict,
    inputs: dict,
    kinds: dict[str, LayerKind],
    output_index: int = 0,
    canvas: tuple[int, int] | None = None,
) -> Recipe:
    """Check params and inputs the way ``Project.add_layer`` does; errors start with ``where``
    (which layer). Inputs
    may name any layer of the file (``kinds``), above or below: stack order is not DAG order."""
    try:
        clean_params = spec.validate_params(params, canvas)
        clean_inputs = spec.validate_inputs(inputs)
    except InvalidParams as exc:
        raise WorkflowError(f"{where}: {exc.message}") from None
    for param in spec.layer_params:
        value = clean_inputs.get(param.name)
        for input_id in value if isinstance(value, list) else ([value] if value else []):
            if input_id not in kinds:
                raise WorkflowError(
                    f"{where}: input `{param.name}` refers to layer {input_id!r}, "
                    "which is not in the workflow"
                )
            if param.kind != "any" and kinds[input_id] != param.kind:
                raise WorkflowError(
                    f"{where}: input `{param.name}` needs a {param.kind} layer "
                    f"but {input_id!r} is a {kinds[input_id]} layer"
                )
    return Recipe(spec.name, spec.version, clean_params, copy.deepcopy(clean_inputs), output_index)


def initial_state(spec: OpSpec, result: str | None, assets: dict[str, bytes]) -> tuple[str, str | None]:
    """(status, blob) of an imported layer. Deterministic layers are recomputed on replay and
    compared with the file; a non-deterministic result cannot be recomputed, so the carried
    pixels are the layer."""
    if result is not None and result in assets and not spec.deterministic:
        return "ready", result
    return "pending", None


def build_project(name: str, width: int, height: int, layers: list[LayerState]) -> Project:
    """A fresh project (new id, empty history) holding ``layers`` in stack order."""
    try:
        project = Project.new(name, width, height)
    except InvalidParams as exc:
        raise WorkflowError(exc.message) from None
    project.layers = layers
    project.next_id = 1 + max((int(x.id[1:]) for x in layers if x.id[1:].isdigit()), default=0)
    return project
