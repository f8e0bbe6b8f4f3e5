"""The project: a canvas holding an ordered stack of layers that form a DAG through their
recipe inputs, with a revision number and an undo/redo history of document changes.

Document changes (add, edit, delete, move, visibility, opacity, rename) are checkpointed for
undo. Run-time changes (status, result blob) bump the revision but are not undoable: they
follow from the document. Old pixels stay in the blob store, so undo is instant."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from opendream.core import provenance
from opendream.core.errors import CycleError, InvalidParams, LayerNotFound, NothingToUndo
from opendream.core.placement import (
    MAX_OFFSET_CANVASES,
    Placement,
    anchor_offset,
    checked_blend,
    checked_placement,
)
from opendream.core.recipe import LayerKind, LayerState, Recipe, RunRecord
from opendream.core.registry import OpSpec

MAX_HISTORY = 200
MAX_LAYERS = 1000
MAX_NAME = 200
PROMPT_IN_NAME = 40  # characters of a prompt in a default layer name
MIN_SIZE, MAX_SIZE = 8, 8192
_NEEDS_RUN = {"pending", "stale", "failed", "cancelled"}


def check_canvas_size(width: int, height: int) -> None:
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or isinstance(value, bool) or not MIN_SIZE <= value <= MAX_SIZE:
            raise InvalidParams(
                "project",
                [
                    {
                        "param": name,
                        "message": f"has to be an integer in [{MIN_SIZE}, {MAX_SIZE}] but is {value!r}",
                    }
                ],
            )


def check_name(name: Any, what: str = "name") -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise InvalidParams("project", [{"param": what, "message": f"has to be 1 to {MAX_NAME} characters"}])
    return name.strip()


def default_name(spec: OpSpec, params: dict) -> str:
    """A new layer's name: the op's title, then the start of its ``prompt`` when it has one,
    so that layers of one op tell apart ("Dream: a red fox in the snow")."""
    words = " ".join(prompt.split()) if isinstance(prompt := params.get("prompt"), str) else ""
    if not words:
        return spec.title
    if len(words) > PROMPT_IN_NAME:
        head = words[: PROMPT_IN_NAME + 1]
        words = (head.rsplit(" ", 1)[0] if " " in head else head[:PROMPT_IN_NAME]).rstrip(" ,;:") + "…"
    return f"{spec.title}: {words}"[:MAX_NAME]


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name (2)``, ``name (3)``, … whichever is not taken (within ``MAX_NAME``)."""
    number = 1
    candidate = name
    while candidate in taken:
        number += 1
        suffix = f" ({number})"
        candidate = name[: MAX_NAME - len(suffix)] + suffix
    return candidate


@dataclass
class Snapshot:
    """The undoable part of a project, and ``label``: what the change made after it did
    ("Delete layer “sky”"), which is what undoing back to it takes back. The canvas size is
    ``None`` in snapshots stored before it was undoable (restoring one keeps the size)."""

    name: str
    layers: list[dict]
    label: str = ""
    width: int | None = None
    height: int | None = None


@dataclass
class Project:
    id: str
    name: str
    width: int = 512
    height: int = 512
    layers: list[LayerState] = field(default_factory=list)
    revision: int = 0
    next_id: int = 1
    undo_stack: list[Snapshot] = field(default_factory=list)
    redo_stack: list[Snapshot] = field(default_factory=list)
    _in_one_step: bool = field(default=False, init=False, repr=False, compare=False)

    @classmethod
    def new(cls, name: str, width: int = 512, height: int = 512, project_id: str | None = None) -> Project:
        check_canvas_size(width, height)
        return cls(id=project_id or uuid.uuid4().hex[:12], name=check_name(name), width=width, height=height)

    # --- queries -------------------------------------------------------------------------

    def layer(self, layer_id: str) -> LayerState:
        for layer in self.layers:
            if layer.id == layer_id:
                return layer
        raise LayerNotFound(layer_id)

    def has_layer(self, layer_id: str) -> bool:
        return any(layer.id == layer_id for layer in self.layers)

    def position(self, layer_id: str) -> int:
        return [layer.id for layer in self.layers].index(self.layer(layer_id).id)

    def group(self, layer_id: str) -> list[LayerState]:
        """The layers made by the same run as ``layer_id``, by output index."""
        group = self.layer(layer_id).group
        return sorted((x for x in self.layers if x.group == group), key=lambda x: x.recipe.output_index)

    def children(self, layer_id: str) -> list[str]:
        return [x.id for x in self.layers if layer_id in x.recipe.input_ids()]

    def descendants(self, layer_id: str) -> list[str]:
        """Every layer made (transitively) from ``layer_id``, in stack order."""
        self.layer(layer_id)
        found: set[str] = set()
        frontier = [layer_id]
        while frontier:
            for child in self.children(frontier.pop()):
                if child not in found:
                    found.add(child)
                    frontier.append(child)
        return [x.id for x in self.layers if x.id in found]

    def topological_order(self, ids: Iterable[str] | None = None) -> list[str]:
        """Layer ids so that every layer comes after its inputs; ties keep stack order."""
        wanted = set(ids) if ids is not None else {x.id for x in self.layers}
        order: list[str] = []
        done: set[str] = set()
        remaining = [x for x in self.layers if x.id in wanted]
        while remaining:
            ready = [x for x in remaining if all(i in done or i not in wanted for i in x.recipe.input_ids())]
            if not ready:
                raise CycleError([x.id for x in remaining])
            for x in ready:
                order.append(x.id)
                done.add(x.id)
            remaining = [x for x in remaining if x.id not in done]
        return order

    def needs_run(self) -> list[str]:
        """Layers whose pixels are missing or out of date, in topological order."""
        return self.topological_order([x.id for x in self.layers if x.status in _NEEDS_RUN or x.blob is None])

    # --- document changes (undoable) --------------------------------------------------

    @contextmanager
    def one_step(self, label: str) -> Iterator[None]:
        """The changes made inside are one undo step labelled ``label`` (a command made of
        several changes, such as outpainting)."""
        if self._in_one_step:
            yield
            return
        self._checkpoint(label)
        self._in_one_step = True
        try:
            yield
        finally:
            self._in_one_step = False

    def add_layer(
        self,
        spec: OpSpec,
        params: dict,
        inputs: dict,
        name: str | None = None,
        *,
        placement: dict[str, Any] | None = None,
        visible: bool = True,
        layer_mask: str | None = None,
    ) -> LayerState:
        """Append a layer made by ``spec`` on top of the stack, status ``pending``, drawn at
        ``placement`` (see ``place_layer``) through ``layer_mask`` (see ``set_layer_mask``)."""
        if len(self.layers) >= MAX_LAYERS:
            raise InvalidParams(
                spec.name, [{"param": "layers", "message": f"a project holds at most {MAX_LAYERS} layers"}]
            )
        recipe = self._validated_recipe(spec, params, inputs)
        layer_id = self._new_id()
        layer = LayerState(
            id=layer_id,
            name=check_name(name) if name is not None else default_name(spec, recipe.params),
            kind="mask" if spec.returns_masks else "image",
            recipe=recipe,
            group=layer_id,
            visible=visible,
            placement=checked_placement(Placement(), placement or {}, (self.width, self.height)),
        )
        self._check_layer_mask(layer, layer_mask)
        layer.mask = layer_mask
        self._checkpoint(f"Add layer “{layer.name}”")
        self.layers.append(layer)
        self._touch()
        return layer

    def edit_recipe(
        self, layer_id: str, spec: OpSpec, params: dict | None = None, inputs: dict | None = None
    ) -> list[str]:
        """Change a layer's recipe (merging ``params``/``inputs`` over the current ones).
        The layer's group becomes ``pending``, its descendants ``stale``; returns them all
        in topological order."""
        target = self.layer(layer_id)
        old = target.recipe
        merged_params = {**old.params, **(params or {})}
        merged_inputs = {**old.inputs, **(inputs or {})}
        merged_inputs = {k: v for k, v in merged_inputs.items() if v is not None}
        recipe = self._validated_recipe(spec, merged_params, merged_inputs)
        group = self.group(layer_id)
        group_ids = {x.id for x in group}
        descendants = {d for g in group_ids for d in self.descendants(g)} - group_ids
        for input_id in recipe.input_ids():
            if input_id in group_ids or input_id in descendants:
                raise CycleError([layer_id, input_id, layer_id])
        self._checkpoint(f"Edit “{target.name}”")
        for member in group:
            member.recipe = Recipe(
                recipe.op,
                recipe.op_version,
                dict(recipe.params),
                copy.deepcopy(recipe.inputs),
                member.recipe.output_index,
            )
            member.status = "pending"
        for layer in self.layers:
            if layer.id in descendants:
                layer.status = "stale"
        self._touch()
        return self.topological_order(group_ids | descendants)

    def delete_layer(self, layer_id: str, dry_run: bool = False) -> list[str]:
        """Delete a layer and its descendants (only those); returns their ids in stack order."""
        doomed = {layer_id, *self.descendants(layer_id)}
        ids = [x.id for x in self.layers if x.id in doomed]
        if not dry_run:
            others = f" and {len(ids) - 1} made from it" if len(ids) > 1 else ""
            self._checkpoint(f"Delete layer “{self.layer(layer_id).name}”{others}")
            self.layers = [x for x in self.layers if x.id not in doomed]
            for layer in self.layers:
                if layer.mask in doomed:
                    layer.mask = None
            self._touch()
        return ids

    def move_layer(self, layer_id: str, position: int) -> None:
        """Move a layer to ``position`` in the stack (0 = bottom)."""
        if (
            not isinstance(position, int)
            or isinstance(position, bool)
            or not 0 <= position < len(self.layers)
        ):
            raise InvalidParams(
                "project",
                [
                    {
                        "param": "position",
                        "message": f"has to be in [0, {len(self.layers) - 1}] but is {position!r}",
                    }
                ],
            )
        layer = self.layer(layer_id)
        if self.position(layer_id) == position:
            return
        self._checkpoint(f"Move “{layer.name}”")
        self.layers.remove(layer)
        self.layers.insert(position, layer)
        self._touch()

    def set_visible(self, layer_id: str, visible: bool) -> None:
        layer = self.layer(layer_id)
        if not isinstance(visible, bool):
            raise InvalidParams("project", [{"param": "visible", "message": "has to be true or false"}])
        if layer.visible != visible:
            self._checkpoint(f"{'Show' if visible else 'Hide'} “{layer.name}”")
            layer.visible = visible
            self._touch()

    def set_opacity(self, layer_id: str, opacity: float) -> None:
        layer = self.layer(layer_id)
        if isinstance(opacity, bool) or not isinstance(opacity, int | float) or not 0.0 <= opacity <= 1.0:
            raise InvalidParams(
                "project", [{"param": "opacity", "message": f"has to be in [0, 1] but is {opacity!r}"}]
            )
        if layer.opacity != float(opacity):
            self._checkpoint(f"Opacity of “{layer.name}”")
            layer.opacity = float(opacity)
            self._touch()

    def place_layer(self, layer_id: str, changes: dict[str, Any]) -> None:
        """Move, scale or flip a layer on the canvas (``changes``: any of x, y, scale, flip_x,
        flip_y). Its pixels stay what they are: nothing re-runs."""
        layer = self.layer(layer_id)
        placement = checked_placement(layer.placement, changes, (self.width, self.height))
        if placement == layer.placement:
            return
        old = layer.placement
        verb = (
            "Move"
            if (placement.x, placement.y) != (old.x, old.y)
            else "Scale"
            if placement.scale != old.scale
            else "Flip"
        )
        self._checkpoint(f"{verb} “{layer.name}” on the canvas")
        layer.placement = placement
        self._touch()

    def set_blend(self, layer_id: str, mode: str) -> None:
        layer = self.layer(layer_id)
        mode = checked_blend(mode)
        if layer.blend != mode:
            self._checkpoint(f"Blend “{layer.name}” with {mode}")
            layer.blend = mode
            self._touch()

    def set_layer_mask(self, layer_id: str, mask_id: str | None) -> None:
        """Attach the mask layer ``mask_id`` as ``layer_id``'s layer mask (``None``: detach)."""
        layer = self.layer(layer_id)
        self._check_layer_mask(layer, mask_id)
        if layer.mask == mask_id:
            return
        label = (
            f"Layer mask “{self.layer(mask_id).name}” on “{layer.name}”"
            if mask_id
            else f"Remove the layer mask of “{layer.name}”"
        )
        self._checkpoint(label)
        layer.mask = mask_id
        self._touch()

    def _check_layer_mask(self, layer: LayerState, mask_id: str | None) -> None:
        if mask_id is None:
            return
        problem = (
            "an image layer takes a layer mask, not a mask layer"
            if layer.kind != "image"
            else f"no layer {mask_id!r} in this project"
            if not self.has_layer(mask_id)
            else f"{mask_id!r} is an image layer; a layer mask has to be a mask layer"
            if self.layer(mask_id).kind != "mask"
            else None
        )
        if problem:
            raise InvalidParams("layer", [{"param": "mask", "message": problem}])

    def resize_canvas(self, width: int, height: int, anchor: str = "center") -> None:
        """A canvas of ``width`` x ``height``; the part of the picture at ``anchor`` stays put."""
        check_canvas_size(width, height)
        dx, dy = anchor_offset(anchor, (self.width, self.height), (width, height))
        self._set_canvas(width, height, dx, dy, f"Canvas size {width}×{height}")

    def crop_canvas(self, x: int, y: int, width: int, height: int) -> None:
        """The rectangle at ``(x, y)`` of ``width`` x ``height`` becomes the canvas (it may reach
        past the old canvas's edges, as Photoshop's crop may)."""
        check_canvas_size(width, height)
        for name, value, limit in (("x", x, self.width), ("y", y, self.height)):
            bound = MAX_OFFSET_CANVASES * limit
            if not isinstance(value, int) or isinstance(value, bool) or not -bound <= value <= bound:
                raise InvalidParams(
                    "canvas",
                    [
                        {
                            "param": f"crop.{name}",
                            "message": f"has to be a whole number in [{-bound}, {bound}] but is {value!r}",
                        }
                    ],
                )
        self._set_canvas(width, height, -x, -y, f"Crop canvas to {width}×{height}")

    def fit_canvas(self, layer_id: str, size: tuple[int, int]) -> None:
        """The canvas becomes the box of ``layer_id`` (its own pixels are ``size``) as placed."""
        left, top, right, bottom = self.layer(layer_id).placement.box(size)
        self.crop_canvas(left, top, right - left, bottom - top)

    def rename_layer(self, layer_id: str, name: str) -> None:
        layer = self.layer(layer_id)
        name = check_name(name)
        if layer.name != name:
            self._checkpoint(f"Rename layer “{layer.name}” to “{name}”")
            layer.name = name
            self._touch()

    def rename(self, name: str) -> None:
        name = check_name(name)
        if self.name != name:
            self._checkpoint(f"Rename project to “{name}”")
            self.name = name
            self._touch()

    def undo(self) -> None:
        if not self.undo_stack:
            raise NothingToUndo("nothing to undo")
        self.redo_stack.append(self._snapshot(self.undo_stack[-1].label))
        self._restore(self.undo_stack.pop())

    def redo(self) -> None:
        if not self.redo_stack:
            raise NothingToUndo("nothing to redo")
        self.undo_stack.append(self._snapshot(self.redo_stack[-1].label))
        self._restore(self.redo_stack.pop())

    def undo_label(self) -> str | None:
        """What ``undo`` would take back (``None``: nothing; ``""``: a change stored unlabelled)."""
        return self.undo_stack[-1].label if self.undo_stack else None

    def redo_label(self) -> str | None:
        """What ``redo`` would do again."""
        return self.redo_stack[-1].label if self.redo_stack else None

    # --- run-time changes (not undoable) ----------------------------------------------

    def mark(self, layer_ids: Iterable[str], status: str, error: str | None = None) -> None:
        for layer_id in layer_ids:
            if self.has_layer(layer_id):
                layer = self.layer(layer_id)
                layer.status = status  # type: ignore[assignment]
                if error is not None:
                    layer.run = RunRecord(error=error, job=layer.run.job, made_by=layer.run.made_by)
        self._touch()

    def set_outputs(self, layer_id: str, outputs: list[tuple[LayerKind, str]], run: RunRecord) -> list[str]:
        """Store a run's results on the layer's group. A run that made more outputs than the
        group has adds layers above it; fewer removes the extra layers and their descendants.
        Returns the ids of removed layers."""
        group = self.group(layer_id)
        head = group[0]
        if run.made_by is not None and run.note is None:
            run.note = provenance.changed(head.run.made_by, run.made_by, head.recipe.op)
        removed: list[str] = []
        for extra in group[len(outputs) :]:
            if self.has_layer(extra.id):
                doomed = {extra.id, *self.descendants(extra.id)}
                removed.extend(x.id for x in self.layers if x.id in doomed)
                self.layers = [x for x in self.layers if x.id not in doomed]
        group = group[: len(outputs)]
        for index in range(len(group), len(outputs)):
            new_id = self._new_id()
            recipe = Recipe(
                head.recipe.op,
                head.recipe.op_version,
                dict(head.recipe.params),
                copy.deepcopy(head.recipe.inputs),
                index,
            )
            layer = LayerState(
                id=new_id,
                name=f"{head.name} #{index + 1}",
                kind=outputs[index][0],
                recipe=recipe,
                group=head.id,
            )
            self.layers.insert(self.position(group[-1].id) + 1, layer)
            group.append(layer)
        for layer, (kind, blob) in zip(group, outputs, strict=True):
            layer.kind = kind
            layer.blob = blob
            layer.status = "ready"
            layer.run = copy.deepcopy(run)
        self._touch()
        return removed

    # --- serialisation ------------------------------------------------------------------

    def to_dict(self, history: bool = True) -> dict:
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "width": self.width,
            "height": self.height,
            "revision": self.revision,
            "next_id": self.next_id,
            "layers": [x.to_dict() for x in self.layers],
        }
        if history:
            data["undo"] = [asdict(s) for s in self.undo_stack]
            data["redo"] = [asdict(s) for s in self.redo_stack]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Project:
        return cls(
            id=data["id"],
            name=data["name"],
            width=int(data["width"]),
            height=int(data["height"]),
            layers=[LayerState.from_dict(x) for x in data["layers"]],
            revision=int(data.get("revision", 0)),
            next_id=int(data.get("next_id", len(data["layers"]) + 1)),
            undo_stack=[Snapshot(**s) for s in data.get("undo", [])],
            redo_stack=[Snapshot(**s) for s in data.get("redo", [])],
        )

    # --- internals ------------------------------------------------------------------------

    def _validated_recipe(self, spec: OpSpec, params: dict, inputs: dict) -> Recipe:
        clean_params = spec.validate_params(params, (self.width, self.height))
        clean_inputs = spec.validate_inputs(inputs)
        errors = []
        for param in spec.layer_params:
            value = clean_inputs.get(param.name)
            for input_id in value if isinstance(value, list) else ([value] if value else []):
                if not self.has_layer(input_id):
                    errors.append({"param": param.name, "message": f"no layer {input_id!r} in this project"})
                elif param.kind != "any" and self.layer(input_id).kind != param.kind:
                    errors.append(
                        {
                            "param": param.name,
                            "message": f"needs a {param.kind} layer but {input_id!r} is a {self.layer(input_id).kind} layer",
                        }
                    )
        if errors:
            raise InvalidParams(spec.name, errors)
        return Recipe(spec.name, spec.version, clean_params, clean_inputs)

    def _new_id(self) -> str:
        layer_id = f"L{self.next_id}"
        self.next_id += 1
        return layer_id

    def _touch(self) -> None:
        self.revision += 1

    def _snapshot(self, label: str = "") -> Snapshot:
        return Snapshot(
            name=self.name,
            layers=[x.to_dict() for x in self.layers],
            label=label,
            width=self.width,
            height=self.height,
        )

    def _set_canvas(self, width: int, height: int, dx: int, dy: int, label: str) -> None:
        """The canvas becomes ``width`` x ``height`` with every layer moved by ``(dx, dy)``."""
        if (width, height, dx, dy) == (self.width, self.height, 0, 0):
            return
        self._checkpoint(label)
        self.width, self.height = width, height
        for layer in self.layers:
            layer.placement = layer.placement.moved(dx, dy)
        self._touch()

    def _checkpoint(self, label: str) -> None:
        if self._in_one_step:
            return
        self.undo_stack.append(self._snapshot(label))
        del self.undo_stack[:-MAX_HISTORY]
        self.redo_stack.clear()

    def _restore(self, snapshot: Snapshot) -> None:
        self.name = snapshot.name
        if snapshot.width is not None and snapshot.height is not None:
            self.width, self.height = snapshot.width, snapshot.height
        self.layers = [LayerState.from_dict(x) for x in snapshot.layers]
        for layer in self.layers:
            # A snapshot taken mid-run holds transient states; the engine re-runs (cache hits).
            if layer.status in ("running", "pending") or layer.blob is None:
                layer.status = "stale"
        self._touch()
