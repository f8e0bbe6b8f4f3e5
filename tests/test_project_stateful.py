"""Hypothesis state machine over the project DAG. Invariants: no layer without its inputs;
every layer mask is a mask layer present; topological order respects every edge; undo then
redo is the identity (placements and the canvas size included); save then load gives the same
project."""

from __future__ import annotations

import contextlib
import json

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from opendream.core.errors import NothingToUndo
from opendream.core.placement import ANCHORS, BLEND_MODES
from opendream.core.project import Project
from tests.dag_ops import DAG_OPS

SOURCE, SHAPE, BLEND = (DAG_OPS.get(n) for n in ("source", "shape", "blend"))


def document(p: Project) -> dict:
    """The undoable document: what undo/redo must restore exactly."""
    data = p.to_dict(history=False)
    return {
        "name": data["name"],
        "size": (data["width"], data["height"]),
        "layers": [{k: v for k, v in x.items() if k not in ("status", "run")} for x in data["layers"]],
    }


class ProjectMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.project = Project.new("machine", 64, 64)

    def of_kind(self, kind: str) -> list[str]:
        return [x.id for x in self.project.layers if x.kind == kind]

    @rule(seed=st.integers(0, 300))
    def add_source(self, seed: int) -> None:
        self.project.add_layer(SOURCE, {"seed": seed}, {})

    @rule()
    def add_shape(self) -> None:
        self.project.add_layer(SHAPE, {}, {})

    @precondition(lambda self: self.of_kind("image"))
    @rule(data=st.data(), amount=st.floats(0, 1))
    def add_blend(self, data: st.DataObject, amount: float) -> None:
        images, masks = self.of_kind("image"), self.of_kind("mask")
        inputs = {"a": data.draw(st.sampled_from(images))}
        if data.draw(st.booleans()):
            inputs["b"] = data.draw(st.sampled_from(images))
        if masks and data.draw(st.booleans()):
            inputs["m"] = data.draw(st.sampled_from(masks))
        self.project.add_layer(BLEND, {"amount": amount}, inputs)

    @precondition(lambda self: self.project.layers)
    @rule(data=st.data())
    def edit(self, data: st.DataObject) -> None:
        layer = data.draw(st.sampled_from(self.project.layers))
        if layer.recipe.op == "blend":
            allowed = set(self.of_kind("image")) - {layer.id, *self.project.descendants(layer.id)}
            if allowed:
                self.project.edit_recipe(
                    layer.id, BLEND, {"amount": 0.3}, {"b": data.draw(st.sampled_from(sorted(allowed)))}
                )
        elif layer.recipe.op == "source":
            self.project.edit_recipe(layer.id, SOURCE, {"seed": data.draw(st.integers(0, 9))})

    @precondition(lambda self: self.project.layers)
    @rule(data=st.data(), dry_run=st.booleans())
    def delete(self, data: st.DataObject, dry_run: bool) -> None:
        layer_id = data.draw(st.sampled_from([x.id for x in self.project.layers]))
        expected = {layer_id, *self.project.descendants(layer_id)}
        before = [x.id for x in self.project.layers]
        removed = self.project.delete_layer(layer_id, dry_run=dry_run)
        assert set(removed) == expected
        after = [x.id for x in self.project.layers]
        assert after == (before if dry_run else [i for i in before if i not in expected])

    @precondition(lambda self: self.project.layers)
    @rule(data=st.data())
    def move(self, data: st.DataObject) -> None:
        layer = data.draw(st.sampled_from(self.project.layers))
        self.project.move_layer(layer.id, data.draw(st.integers(0, len(self.project.layers) - 1)))

    @precondition(lambda self: self.project.layers)
    @rule(data=st.data(), visible=st.booleans(), opacity=st.floats(0, 1))
    def appearance(self, data: st.DataObject, visible: bool, opacity: float) -> None:
        layer = data.draw(st.sampled_from(self.project.layers))
        self.project.set_visible(layer.id, visible)
        self.project.set_opacity(layer.id, opacity)

    @precondition(lambda self: self.project.layers)
    @rule(data=st.data(), name=st.text(min_size=1, max_size=20).filter(str.strip))
    def rename(self, data: st.DataObject, name: str) -> None:
        self.project.rename_layer(data.draw(st.sampled_from(self.project.layers)).id, name)

    @precondition(lambda self: self.project.layers)
    @rule(data=st.data(), scale=st.floats(0.01, 16), flip=st.booleans(), blend=st.sampled_from(BLEND_MODES))
    def place(self, data: st.DataObject, scale: float, flip: bool, blend: str) -> None:
        layer = data.draw(st.sampled_from(self.project.layers))
        x = data.draw(st.integers(-4 * self.project.width, 4 * self.project.width))
        y = data.draw(st.integers(-4 * self.project.height, 4 * self.project.height))
        self.project.place_layer(layer.id, {"x": x, "y": y, "scale": scale, "flip_x": flip})
        self.project.set_blend(layer.id, blend)

    @precondition(lambda self: self.project.layers)
    @rule(data=st.data())
    def layer_mask(self, data: st.DataObject) -> None:
        images, masks = self.of_kind("image"), self.of_kind("mask")
        if images:
            mask = data.draw(st.sampled_from([None, *masks]))
            self.project.set_layer_mask(data.draw(st.sampled_from(images)), mask)

    @rule(width=st.integers(8, 200), height=st.integers(8, 200), anchor=st.sampled_from(ANCHORS))
    def resize_canvas(self, width: int, height: int, anchor: str) -> None:
        self.project.resize_canvas(width, height, anchor)

    @rule()
    def undo_then_redo_is_identity(self) -> None:
        before = document(self.project)
        try:
            self.project.undo()
        except NothingToUndo:
            return
        self.project.redo()
        assert document(self.project) == before

    @rule()
    def undo(self) -> None:
        with contextlib.suppress(NothingToUndo):
            self.project.undo()

    @rule()
    def redo(self) -> None:
        with contextlib.suppress(NothingToUndo):
            self.project.redo()

    @invariant()
    def every_input_exists(self) -> None:
        present = {x.id for x in self.project.layers}
        for layer in self.project.layers:
            assert set(layer.recipe.input_ids()) <= present, layer

    @invariant()
    def every_layer_mask_is_a_mask_layer_present(self) -> None:
        kinds = {x.id: x.kind for x in self.project.layers}
        for layer in self.project.layers:
            assert layer.mask is None or (layer.kind == "image" and kinds.get(layer.mask) == "mask"), layer

    @invariant()
    def order_is_topological(self) -> None:
        order = self.project.topological_order()
        assert sorted(order) == sorted(x.id for x in self.project.layers)
        position = {layer_id: i for i, layer_id in enumerate(order)}
        for layer in self.project.layers:
            for input_id in layer.recipe.input_ids():
                assert position[input_id] < position[layer.id]

    @invariant()
    def save_then_load_is_identity(self) -> None:
        data = json.loads(json.dumps(self.project.to_dict()))
        assert Project.from_dict(data).to_dict() == self.project.to_dict()


ProjectMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestProjectMachine = ProjectMachine.TestCase
