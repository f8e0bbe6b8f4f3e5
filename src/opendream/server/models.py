"""Request and response models of the HTTP API. Requests forbid unknown fields and bound
every number, string and list; responses are what the OpenAPI document promises."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, model_validator

from opendream.core.placement import MAX_OFFSET_CANVASES, MAX_SCALE, MIN_SCALE, Anchor, BlendMode
from opendream.core.project import MAX_LAYERS, MAX_NAME, MAX_SIZE, MIN_SIZE
from opendream.core.recipe import LayerStatus
from opendream.core.registry import MAX_LAYER_LIST
from opendream.engine.workspace import ReplayResult

MAX_PARAMS = 64


def _integral_float(value: Any) -> Any:
    # JSON Schema counts 512.0 as an integer; strict pydantic would not.
    return int(value) if isinstance(value, float) and value.is_integer() else value


Size = Annotated[int, Field(ge=MIN_SIZE, le=MAX_SIZE), BeforeValidator(_integral_float)]
Position = Annotated[int, Field(ge=0, lt=MAX_LAYERS), BeforeValidator(_integral_float)]
LayerId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
# A name has something besides spaces (they are trimmed): the schema says so, as the server does.
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME, pattern=r"\S")]
LayerInput = LayerId | Annotated[list[LayerId], Field(max_length=MAX_LAYER_LIST)]
# Offsets are bounded here by the largest canvas; the project bounds them by its own (±4 canvases).
Offset = Annotated[
    int,
    Field(ge=-MAX_OFFSET_CANVASES * MAX_SIZE, le=MAX_OFFSET_CANVASES * MAX_SIZE),
    BeforeValidator(_integral_float),
]
Coordinate = Annotated[int, Field(ge=0, le=MAX_SIZE), BeforeValidator(_integral_float)]
Scale = Annotated[float, Field(ge=MIN_SCALE, le=MAX_SCALE, allow_inf_nan=False)]


def _finite(value: Any) -> Any:
    # Python's JSON accepts NaN and Infinity; recipes are hashed as strict JSON, which does not.
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("NaN and Infinity are not allowed")
    if isinstance(value, dict):
        for item in value.values():
            _finite(item)
    elif isinstance(value, list):
        for item in value:
            _finite(item)
    return value


Params = Annotated[
    dict[Annotated[str, Field(max_length=100)], JsonValue],
    Field(max_length=MAX_PARAMS),
    AfterValidator(_finite),
]
Inputs = Annotated[dict[Annotated[str, Field(max_length=100)], LayerInput], Field(max_length=MAX_PARAMS)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Response(BaseModel):
    # Answers always carry every field, defaults included: the schema says so, and the web UI's
    # generated types (frontend/src/api/schema.d.ts) need not treat them as optional.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


# -- requests --------------------------------------------------------------------------------


class ProjectCreate(Request):
    name: Name = "Untitled"
    width: Size = 512
    height: Size = 512


class ProjectPatch(Request):
    name: Name


class PlacementPatch(Request):
    """Any of a layer's placement fields; the others keep their values."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    x: Offset | None = Field(default=None, description="Canvas x of the scaled image's left edge")
    y: Offset | None = Field(default=None, description="Canvas y of the scaled image's top edge")
    scale: Scale | None = Field(default=None, description="Uniform scale of the layer's own pixels")
    flip_x: bool | None = Field(default=None, description="Mirrored left to right")
    flip_y: bool | None = Field(default=None, description="Mirrored top to bottom")

    @model_validator(mode="after")
    def _changes_something(self) -> PlacementPatch:
        if not self.model_fields_set:
            raise ValueError("name at least one of x, y, scale, flip_x, flip_y")
        return self


OpName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class LayerCreate(Request):
    op: OpName
    params: Params = {}
    inputs: Inputs = {}
    name: Name | None = None
    placement: PlacementPatch | None = Field(
        default=None, description="Where the canvas draws the new layer (e.g. at a generation region)"
    )
    mask: LayerId | None = Field(default=None, description="A mask layer's id as the new layer's layer mask")


class LayerPatch(Request):
    """Presentation fields and/or a new recipe. ``params``/``inputs`` are merged over the
    current recipe (an input set to null is removed) and re-run the layer and its descendants.
    ``placement``, ``blend`` and ``mask`` (null detaches it) change how the canvas draws the
    layer and re-run nothing."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    placement: PlacementPatch | None = None
    blend: BlendMode | None = None
    mask: LayerId | None = Field(
        default=None, description="A mask layer's id as the layer mask; null detaches"
    )
    name: Name | None = None
    visible: bool | None = None
    opacity: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    position: Position | None = None
    params: Params | None = None
    inputs: (
        Annotated[
            dict[Annotated[str, Field(max_length=100)], LayerInput | None], Field(max_length=MAX_PARAMS)
        ]
        | None
    ) = None


class ReplayRequest(Request):
    force: bool = Field(False, description="Ignore the result cache and run every layer again")
    timeout: Annotated[float, Field(ge=0, le=3600)] = Field(
        600, description="Seconds to wait for the runs; the report says whether they all finished"
    )


class ConsentRequest(Request):
    layers: list[Annotated[str, Field(max_length=64)]] | None = Field(
        None, max_length=1000, description="The layers agreed to; all that wait when omitted"
    )


class ExtensionFetch(Request):
    url: Annotated[str, Field(min_length=1, max_length=2048, description="http(s) URL of one .py file")]


class ExtensionEnable(Request):
    sha256: Annotated[
        str, Field(min_length=1, max_length=128, description="The sha256 shown for the download, confirmed")
    ]
    code: Annotated[
        str,
        Field(
            min_length=1,
            max_length=32,
            description="The one-time code the server printed on its console when it fetched the file",
        ),
    ]


# -- responses -------------------------------------------------------------------------------


class FieldError(BaseModel):
    param: str
    message: str


class ErrorOut(BaseModel):
    detail: str
    errors: list[FieldError] | None = None


class RecipeOut(Response):
    op: str
    op_version: str
    params: dict[str, Any]
    inputs: dict[str, str | list[str]]
    output_index: int


class RunOut(Response):
    duration: float | None = None
    cache_hit: bool = False
    environment: dict[str, Any] | None = None
    error: str | None = None
    job: str | None = None


class CanvasResize(Request):
    """A new canvas size; the part of the picture at ``anchor`` stays put."""

    width: Size
    height: Size
    anchor: Anchor = "center"


class CropBox(Request):
    x: Offset
    y: Offset
    width: Size
    height: Size


class CanvasCrop(Request):
    """That rectangle of the canvas (it may reach past the edges) becomes the canvas."""

    crop: CropBox


class CanvasFit(Request):
    """The canvas becomes the box of layer ``fit`` as placed."""

    fit: LayerId


CanvasChange = CanvasResize | CanvasCrop | CanvasFit


class RegionGenerate(Request):
    """The layer to generate from a region: the region fills ``op``'s image input (the cut mask
    its mask input) and the result is placed over the region, as ``POST …/layers`` would."""

    params: Params = {}
    inputs: Inputs = {}
    name: Name | None = None


class RegionCreate(Request):
    """A rectangle of the canvas to generate into, and what will generate there (its model's
    family sets the size the region is generated at)."""

    x: Coordinate
    y: Coordinate
    width: Size
    height: Size
    op: OpName = "img2img"
    model: Annotated[str, Field(max_length=1000)] = ""
    mask: LayerId | None = Field(
        default=None, description="A mask layer to cut to the region too (for an op's mask input)"
    )
    generate: RegionGenerate | None = Field(
        default=None,
        description="Also add ``op``'s layer generated from the region, in the same undo step",
    )


class OutpaintCreate(Request):
    """Enlarge the canvas (``anchor``: the part of the picture that stays put) and fill the new
    area by inpainting over the canvas; ``params`` go to ``mask_and_inpaint`` (prompt, model …)."""

    width: Size
    height: Size
    anchor: Anchor = "center"
    grow: Annotated[
        int,
        Field(ge=0, le=256, description="Pixels the fill reaches into the picture"),
        BeforeValidator(_integral_float),
    ] = 8
    feather: Annotated[
        float, Field(ge=0, le=256, allow_inf_nan=False, description="Softness of its edge")
    ] = 16.0
    params: Params = {}


class PlacementOut(Response):
    x: int
    y: int
    scale: float
    flip_x: bool
    flip_y: bool


class LayerOut(Response):
    id: str
    name: str
    kind: Literal["image", "mask"]
    status: LayerStatus
    blob: str | None
    visible: bool
    opacity: float
    placement: PlacementOut = Field(description="Where the canvas draws the layer's own pixels")
    blend: BlendMode
    mask: str | None = Field(description="The mask layer attached as this layer's layer mask")
    group: str
    recipe: RecipeOut
    run: RunOut


class ProjectOut(Response):
    id: str
    name: str
    width: int
    height: int
    revision: int
    layers: list[LayerOut] = Field(description="Stack order, bottom first")
    can_undo: bool
    can_redo: bool
    undo_label: str | None = Field(
        default=None, description="What undo would take back, e.g. `Delete layer “sky”` (null: nothing)"
    )
    redo_label: str | None = Field(default=None, description="What redo would do again (null: nothing)")


class ProjectSummary(Response):
    id: str
    name: str
    revision: int
    created_at: str
    updated_at: str
    width: int
    height: int
    layer_count: int
    thumbnail: str | None = Field(
        description="Blob of the topmost visible image layer with pixels (GET /api/blobs/{hash}?thumb=1), or null"
    )


class JobOut(Response):
    id: str
    project_id: str
    layer_id: str = Field(description="The first layer of the group the job runs")
    op: str
    force: bool
    state: Literal["queued", "running", "completed", "failed", "cancelled"]
    error: str | None
    outcome: str | None = Field(description="computed, cached or skipped once completed")
    created_at: str
    started_at: str | None
    finished_at: str | None
    worker: str | None = Field(description="The Ray executor's worker that ran it (null in process)")
    node: str | None = Field(description="The address of the Ray node that worker ran on")


class ConsentOut(Response):
    layer: str = Field(description="The first layer of the group that waits")
    name: str
    op: str
    reason: str = Field(description="What running it would do, e.g. `calls OpenAI Images API (paid)`")


class LayersQueued(Response):
    project: ProjectOut
    layers: list[str] = Field(description="The new or re-run layers")
    jobs: list[JobOut]
    notes: dict[str, str] = Field(
        default_factory=dict,
        description="Per layer: the op here is not what made it in the file (an extension's override)",
    )
    consent: list[ConsentOut] = Field(
        default_factory=list, description="The file's layers that wait for consent before they run"
    )


class DeleteOut(Response):
    dry_run: bool
    deleted: list[str] = Field(description="The layer and its descendants, in stack order")
    project: ProjectOut


class ReplayLayer(Response):
    layer: str
    name: str
    op: str
    status: str
    job: str | None
    outcome: str | None
    result: ReplayResult
    blob: str | None
    expected: str | None
    error: str | None
    note: str | None = Field(
        None, description="The op here is not what made the layer (an extension's override, or its absence)"
    )
    reason: str | None = Field(
        None,
        description="Why a layer that differs may: e.g. `backend changed: made on openvino, replayed on torch`",
    )


class ReplayOut(Response):
    ok: bool = Field(description="Every layer ran and matches the recorded result (or is new)")
    complete: bool = Field(description="Every run finished within the timeout")
    layers: list[ReplayLayer]


class OpOut(Response):
    name: str
    title: str
    version: str
    category: str
    description: str
    deterministic: bool
    source: Literal["image", "mask"] | None = Field(
        description="A source op (category `source`): its layer holds the user's picture (`image`) or "
        "painted mask (`mask`), replaced by `PUT …/layers/{id}/asset`; null: the op computes its pixels"
    )
    remote: bool = Field(description="Calls a paid or remote service: a file's layers of it wait for consent")
    service: str | None = Field(description="The service a remote op calls")
    extension: str | None
    overrides: str | None = Field(
        None, description="The op this user extension's op replaces: `builtin` or a bundled extension"
    )
    schema_: dict[str, Any] = Field(alias="schema", description="JSON Schema of params and layer inputs")

    model_config = ConfigDict(
        populate_by_name=True, serialize_by_alias=True, json_schema_serialization_defaults_required=True
    )


class OverrideOut(Response):
    op: str
    replaces: str = Field(description="`builtin`, or the bundled extension whose op of that name it replaces")
    active: bool = Field(description="Whether the override runs (false: switched off, the built-in runs)")


class ExtensionOut(Response):
    name: str
    source: str
    ops: list[str]
    error: str | None
    missing: list[str] = Field(
        default_factory=list,
        description="Packages it needs that are not installed (`opendream extensions deps NAME --install`)",
    )
    overrides: list[OverrideOut] = Field(
        default_factory=list, description="Built-in or bundled ops it replaces with its own of the same name"
    )


class UseBuiltin(BaseModel):
    use_builtin: bool = Field(description="true: run the built-in op; false: run the extension's override")


class InstalledExtensionOut(ExtensionOut):
    url: str | None = Field(description="Where it was installed from, when from a URL")
    sha256: str | None = Field(description="The hash pinned when it was installed from a URL")


class UrlInstallOut(Response):
    allowed: bool
    reason: str | None = Field(description="Why installing from a URL is refused on this server")


class ExtensionsOut(Response):
    url_install: UrlInstallOut
    extensions: list[InstalledExtensionOut]


class FetchedOut(Response):
    url: str
    name: str = Field(description="The file name it will have in the extensions folder")
    sha256: str = Field(description="Names the quarantined download; confirm it to enable it")
    size: int
    preview: str = Field(description="The source text (cut when very long)")
    preview_truncated: bool


class PendingOut(Response):
    url: str
    name: str = Field(description="The file name it will have in the extensions folder")
    sha256: str
    size: int
    fetched_at: float = Field(description="Unix time of the download")


class EnabledOut(Response):
    extension: InstalledExtensionOut
    ops: list[OpOut] = Field(description="The ops it provides now")


class OpsOut(Response):
    ops: list[OpOut]
    extensions: list[ExtensionOut]


class HealthOut(Response):
    status: Literal["ok"]
    version: str
    device: str
    dtype: str
    tiny_models: bool
    workers: int
    queued: int


# Every error answer has the ErrorOut shape (validation errors too, unlike FastAPI's default).
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (400, "Malformed request"),
        (403, "Refused by the Host / Origin checks"),
        (404, "No such project, layer, op, job or blob"),
        (409, "Conflict: nothing to undo, or the project changed meanwhile"),
        (413, "Request body over the limit"),
        (415, "Not an allowed image (PNG, JPEG, WebP) or too many pixels"),
        (422, "Invalid fields; `errors` names each one"),
    )
}


class LocalLoraOut(BaseModel):
    """A LoRA file in the model folders (``GET /api/loras``)."""

    model: str = Field(description="What a `loras` entry's `model` takes: the file's path")
    family: str | None = Field(description="`sd1`, `sd2`, `sdxl`, `flux1`; null when its names do not say")
    title: str = Field(description="The family for people, e.g. `SDXL`")
    bytes: int = Field(description="Size on disk")
    triggers: list[str] = Field(description="Its most frequent training tags (Kohya's metadata), if any")


class LocalEmbeddingOut(BaseModel):
    """A textual-inversion embedding in the model folders (``GET /api/embeddings``)."""

    model: str = Field(description="The file's path")
    name: str = Field(description="What a prompt writes to use it: the file's name without `.safetensors`")
    family: str | None = Field(description="`sd1`, `sd2`, `sdxl`; null when its vectors' width does not say")
    title: str = Field(description="The family for people, e.g. `SDXL`")
    vectors: int = Field(description="How many token vectors it has")
    bytes: int = Field(description="Size on disk")


class LocalModelOut(BaseModel):
    """A model available here without a download (``GET /api/models``)."""

    model: str = Field(description="What an op's `model` parameter takes: a hub repo id or a path")
    kind: Literal["hub", "folder", "safetensors"]
    family: str | None = Field(description="`sd1`, `sd2`, `sdxl`, `flux1` …; null when not known")
    variant: str | None = Field(description="`normal`, `inpaint`, `refiner` …; null when not known")
    title: str = Field(description="The family for people, e.g. `SDXL (inpaint)`")
    bytes: int = Field(description="Size on disk")
    defaults: dict[str, Any] = Field(
        description="Parameter values that suit the model's family (`width`, `height`, `steps`, "
        "`guidance_scale`, `scheduler`): the form applies those its op has when the model is picked; "
        "omitted ones in a recipe naming the model take them too"
    )
