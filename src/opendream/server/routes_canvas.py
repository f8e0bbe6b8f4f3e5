"""The canvas: its size, generation regions and outpainting. Each is one undo step."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException

from opendream.core.project import Project, default_name
from opendream.core.regions import (
    Region,
    generation_size,
    mask_recipe,
    region_inputs,
    region_recipe,
    region_size_params,
)
from opendream.core.registry import OpRegistry
from opendream.server.models import (
    ERRORS,
    CanvasChange,
    CanvasCrop,
    CanvasFit,
    LayersQueued,
    OutpaintCreate,
    ProjectOut,
    RegionCreate,
)
from opendream.server.state import ServerState, get_state, project_out

router = APIRouter(prefix="/api/projects/{project_id}", tags=["canvas"], responses=ERRORS)
State = Annotated[ServerState, Depends(get_state)]
#: The side a region is generated at when the op's model tells no family (SD 1.x's).
DEFAULT_NATIVE_SIDE = 512
#: Sizes on this grid suit every family (8 for the UNet families, 16 for the transformers).
GENERATION_GRID = 16
#: The grey ComfyUI and A1111 fill an outpainted area with before inpainting it.
OUTPAINT_BACKGROUND = "#808080"


def _native_side(registry: OpRegistry, op: str, model: str) -> int:
    """The side of the square the op's model generates best at (its family's default size)."""
    spec = registry.get(op)
    suggested = spec.defaults({"model": model}) if spec.defaults is not None else {}
    return max(suggested.get("width", 0), suggested.get("height", 0)) or DEFAULT_NATIVE_SIDE


def _sizes(state: ServerState, project: Project):
    blobs = state.workspace.data.blobs

    def image_size(layer_id: str) -> tuple[int, int] | None:
        blob = project.layer(layer_id).blob
        return blobs.image_size(blob) if blob else None

    return image_size


@router.post("/canvas", response_model=ProjectOut)
def change_canvas(project_id: str, body: CanvasChange, state: State) -> dict:
    """Resize the canvas keeping ``anchor`` in place, crop it to a rectangle, or fit it to a
    layer as placed. Layers keep their pixels and move with the picture; one undo step."""

    def change(project: Project) -> None:
        if isinstance(body, CanvasCrop):
            crop = body.crop
            project.crop_canvas(crop.x, crop.y, crop.width, crop.height)
        elif isinstance(body, CanvasFit):
            size = _sizes(state, project)(body.fit)
            if size is None:
                raise HTTPException(409, f"layer {body.fit} has no pixels yet; fit the canvas once it has")
            project.fit_canvas(body.fit, size)
        else:
            project.resize_canvas(body.width, body.height, body.anchor)

    project, _ = state.service.update(project_id, change)
    return project_out(project)


@router.post("/regions", status_code=201, response_model=LayersQueued)
def take_region(project_id: str, body: RegionCreate, state: State) -> dict:
    """The visible canvas under a rectangle as a new (hidden) ``canvas_region`` layer, at the
    size ``op``'s model generates best at (``params.output_width``/``output_height``): use it as
    that op's image and place the result at the region with scale ``width / output_width``.
    With ``mask``, that mask layer cut to the region at the same size follows as a hidden
    ``mask_region`` layer (``layers[1]``), for the op's mask input. With ``generate``, ``op``'s
    layer made from them follows last, placed over the region (through the cut mask); an op
    without an image input (``dream``) takes no region layer but is told the size to generate
    at. One undo step."""
    registry = state.workspace.registry
    region = Region(body.x, body.y, body.width, body.height)
    size = generation_size(region, _native_side(registry, body.op, body.model), GENERATION_GRID)
    where = f"{region.width}×{region.height} at {region.x}, {region.y}"
    generate = body.generate
    spec = registry.get(body.op)
    if generate is None:
        label = f"Add layer “Region {where}”"
    else:
        label = f"Add layer “{generate.name or default_name(spec, generate.params)}” in region"

    def change(project: Project) -> list[str]:
        # Checked once the project is found (a missing one is a 404, whatever the request).
        region.check((project.width, project.height))
        image_input, mask_input = region_inputs(
            spec, with_mask=body.mask is not None and generate is not None
        )
        if generate is not None:
            params = generate.params if image_input else generate.params | region_size_params(spec, size)
        made = []
        inputs = dict(generate.inputs) if generate else {}
        with project.one_step(label):
            if generate is None or image_input is not None:
                taken, taken_inputs = region_recipe(project, region, size, _sizes(state, project))
                made.append(
                    project.add_layer(
                        registry.get("canvas_region"), taken, taken_inputs, f"Region {where}", visible=False
                    )
                )
                if image_input is not None:
                    inputs[image_input] = made[0].id
            cut = None
            if body.mask is not None:
                cut_params, cut_inputs = mask_recipe(project, region, size, body.mask)
                cut = project.add_layer(
                    registry.get("mask_region"), cut_params, cut_inputs, f"Mask region {where}", visible=False
                )
                made.append(cut)
                if mask_input is not None:
                    inputs[mask_input] = cut.id
            if generate is not None:
                # The result shows only through the cut mask: elsewhere the canvas keeps its own
                # pixels, not a resampled copy of them.
                placement = {"x": region.x, "y": region.y, "scale": region.width / size[0]}
                made.append(
                    project.add_layer(
                        spec,
                        params,
                        inputs,
                        generate.name,
                        placement=placement,
                        layer_mask=cut.id if cut is not None else None,
                    )
                )
        return [x.id for x in made]

    project, added, jobs = state.queue.edit(project_id, change)
    return {"project": project_out(project), "layers": added, "jobs": jobs}


@router.post("/outpaint", status_code=201, response_model=LayersQueued)
def outpaint(project_id: str, body: OutpaintCreate, state: State) -> dict:
    """Enlarge the canvas and fill the new area, as one undo step: the canvas under the new size
    (hidden ``canvas_region``), on grey (hidden ``flatten``), the mask of its empty area grown
    and feathered into the picture (hidden ``empty_area_mask``), and ``mask_and_inpaint`` of
    those with ``params``, placed over the canvas with that mask as its layer mask, so only the
    new area and a soft seam change."""
    registry = state.workspace.registry
    region = Region(0, 0, body.width, body.height)
    model = str(body.params.get("model") or "")
    size = generation_size(region, _native_side(registry, "mask_and_inpaint", model), GENERATION_GRID)

    def change(project: Project) -> list[str]:
        with project.one_step(f"Outpaint to {body.width}×{body.height}"):
            project.resize_canvas(body.width, body.height, body.anchor)
            params, inputs = region_recipe(project, region, size, _sizes(state, project))
            canvas = project.add_layer(
                registry.get("canvas_region"), params, inputs, "Outpaint: canvas", visible=False
            )
            grey = project.add_layer(
                registry.get("flatten"),
                {"background": OUTPAINT_BACKGROUND},
                {"layers": [canvas.id]},
                "Outpaint: on grey",
                visible=False,
            )
            to_generated = size[0] / body.width  # grow and feather are canvas pixels
            empty = project.add_layer(
                registry.get("empty_area_mask"),
                {"grow": round(body.grow * to_generated), "feather": body.feather * to_generated},
                {"image": canvas.id},
                "Outpaint: new area",
                visible=False,
            )
            fill = project.add_layer(
                registry.get("mask_and_inpaint"),
                body.params,
                {"image_layer": grey.id, "mask_layer": empty.id},
                placement={"scale": body.width / size[0]},
            )
            project.set_layer_mask(fill.id, empty.id)
        return [canvas.id, grey.id, empty.id, fill.id]

    project, added, jobs = state.queue.edit(project_id, change)
    return {"project": project_out(project), "layers": added, "jobs": jobs}
