"""Layers: create from an op, upload an image or a painted mask, replace a source layer's
pixels, patch, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Query, UploadFile
from PIL import Image

from opendream.core.errors import ImageRejected, InvalidParams
from opendream.core.images import MAX_DOWNLOAD_BYTES, decode_image, encode_png
from opendream.core.project import Project
from opendream.core.recipe import asset_ref
from opendream.server.models import ERRORS, DeleteOut, LayerCreate, LayerPatch, LayersQueued
from opendream.server.state import ServerState, get_state, project_out

router = APIRouter(prefix="/api/projects/{project_id}", tags=["layers"], responses=ERRORS)
State = Annotated[ServerState, Depends(get_state)]
MAX_UPLOAD_BYTES = MAX_DOWNLOAD_BYTES


def _add(
    state: ServerState,
    project_id: str,
    op: str,
    params: dict,
    inputs: dict,
    name: str | None,
    placement: dict | None = None,
    layer_mask: str | None = None,
) -> dict:
    spec = state.workspace.registry.get(op)
    project, added, jobs = state.queue.edit(
        project_id,
        lambda p: [p.add_layer(spec, params, inputs, name, placement=placement, layer_mask=layer_mask).id],
    )
    return {"project": project_out(project), "layers": added, "jobs": jobs}


@router.post("/layers", status_code=201, response_model=LayersQueued)
def create_layer(project_id: str, body: LayerCreate, state: State) -> dict:
    """Add a layer made by an op on top of the stack, drawn at ``placement`` (default: the
    canvas's top-left corner, unscaled) through the layer mask ``mask``, and queue its run."""
    placement = body.placement.model_dump(exclude_none=True) if body.placement else None
    return _add(state, project_id, body.op, body.params, body.inputs, body.name, placement, body.mask)


def _read_upload(file: UploadFile) -> bytes:
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise HTTPException(413, f"the file is larger than {MAX_UPLOAD_BYTES} bytes")
    return data


def _store_asset(state: ServerState, file: UploadFile, mode: str | None) -> str:
    """Decode (format and pixel count checked first), normalise to PNG, store; the asset ref."""
    try:
        image: Image.Image = decode_image(_read_upload(file))
    except ImageRejected as exc:
        # Worded as the web UI words a file it refuses itself: “notes.txt”: not a PNG, …
        raise ImageRejected(f"“{_name(file, 'the file')}”: {exc.message}") from None
    if mode is not None and image.mode != mode:
        image = image.convert(mode)
    elif image.mode not in ("RGB", "RGBA", "L"):
        image = image.convert("RGBA")
    return asset_ref(state.workspace.data.blobs.put(encode_png(image)))


def _name(file: UploadFile, default: str) -> str:
    name = (file.filename or "").rsplit("/", 1)[-1].strip()[:200]
    return name or default


@router.post("/uploads", status_code=201, response_model=LayersQueued)
def upload_image(project_id: str, state: State, file: Annotated[UploadFile, File()]) -> dict:
    """A PNG, JPEG or WebP picture as a new ``load_image`` layer."""
    state.service.load(project_id)  # 404 before storing anything
    ref = _store_asset(state, file, None)
    return _add(state, project_id, "load_image", {"asset": ref}, {}, _name(file, "Image"))


@router.post("/masks", status_code=201, response_model=LayersQueued)
def upload_mask(project_id: str, state: State, file: Annotated[UploadFile, File()]) -> dict:
    """A mask painted in the browser (white = selected) as a new ``paint_mask`` layer."""
    state.service.load(project_id)
    ref = _store_asset(state, file, "L")
    return _add(state, project_id, "paint_mask", {"asset": ref}, {}, _name(file, "Mask"))


@router.post("/paintings", status_code=201, response_model=LayersQueued)
def upload_painting(project_id: str, state: State, file: Annotated[UploadFile, File()]) -> dict:
    """Colour painted in the browser (RGBA, transparent where unpainted) as a new ``paint``
    layer; repainting it is ``PUT …/layers/{id}/asset``."""
    state.service.load(project_id)
    ref = _store_asset(state, file, "RGBA")
    return _add(state, project_id, "paint", {"asset": ref}, {}, _name(file, "Paint"))


@router.put("/layers/{layer_id}/asset", response_model=LayersQueued)
def replace_asset(project_id: str, layer_id: str, state: State, file: Annotated[UploadFile, File()]) -> dict:
    """New pixels for a ``load_image`` or ``paint_mask`` layer (a re-painted mask): its recipe's
    ``asset`` changes (one undo step) and the layer and its descendants re-run."""
    op = state.service.load(project_id).layer(layer_id).recipe.op  # 404s before storing anything
    spec = state.workspace.registry.get(op)
    if spec.source is None:
        raise HTTPException(
            409,
            f"layer {layer_id} is made by op {op!r}, which computes its pixels; only layers of source "
            "ops (such as load_image and paint_mask) take new pixels (change this layer's recipe instead)",
        )
    ref = _store_asset(state, file, "L" if spec.source == "mask" else None)

    def change(project: Project) -> list[str]:
        if project.layer(layer_id).recipe.params.get("asset") == ref:
            return []  # the same pixels: no undo step, nothing to re-run
        return project.edit_recipe(layer_id, spec, {"asset": ref})

    project, rerun, jobs = state.queue.edit(project_id, change, shown=[layer_id])
    return {"project": project_out(project), "layers": rerun, "jobs": jobs}


@router.patch("/layers/{layer_id}", response_model=LayersQueued)
def patch_layer(project_id: str, layer_id: str, body: LayerPatch, state: State) -> dict:
    """Change presentation (name, visible, opacity, position, placement, blend mode, layer mask)
    and/or the recipe; a recipe change re-runs the layer and its descendants. Every change is one
    undo step each."""
    if body.model_fields_set == set():
        raise InvalidParams("layer", [{"param": "body", "message": "has to change at least one field"}])
    registry = state.workspace.registry

    def change(project: Project) -> list[str]:
        rerun: list[str] = []
        if body.params is not None or body.inputs is not None:
            spec = registry.get(project.layer(layer_id).recipe.op)
            rerun = project.edit_recipe(layer_id, spec, body.params, body.inputs)
        if body.name is not None:
            project.rename_layer(layer_id, body.name)
        if body.visible is not None:
            project.set_visible(layer_id, body.visible)
        if body.opacity is not None:
            project.set_opacity(layer_id, body.opacity)
        if body.position is not None:
            project.move_layer(layer_id, body.position)
        if body.placement is not None:
            project.place_layer(layer_id, body.placement.model_dump(exclude_none=True))
        if body.blend is not None:
            project.set_blend(layer_id, body.blend)
        if "mask" in body.model_fields_set:
            project.set_layer_mask(layer_id, body.mask)
        return rerun

    project, rerun, jobs = state.queue.edit(project_id, change, shown=[layer_id])
    return {"project": project_out(project), "layers": rerun, "jobs": jobs}


@router.delete("/layers/{layer_id}", response_model=DeleteOut)
def delete_layer(
    project_id: str,
    layer_id: str,
    state: State,
    dry_run: Annotated[bool, Query(description="List what would be deleted; change nothing")] = False,
) -> dict:
    """Delete the layer and its descendants (only those)."""
    if dry_run:
        project = state.service.load(project_id)
        return {
            "dry_run": True,
            "deleted": project.delete_layer(layer_id, dry_run=True),
            "project": project_out(project),
        }
    project, deleted = state.service.update(project_id, lambda p: p.delete_layer(layer_id))
    for job in state.store.active(project_id):
        if job["layer_id"] in deleted:
            state.queue.cancel(job["id"])
    state.hub.publish(
        {"type": "layer.changed", "project": project_id, "revision": project.revision, "deleted": deleted}
    )
    return {"dry_run": False, "deleted": deleted, "project": project_out(project)}
