"""The project DAG: add, edit, delete (descendants only), order, undo/redo, revisions."""

from __future__ import annotations

import pytest

from opendream.core.errors import CycleError, InvalidParams, LayerNotFound, NothingToUndo
from opendream.core.project import Project
from tests.dag_ops import DAG_OPS

SOURCE, SHAPE, BLEND, SPLIT = (DAG_OPS.get(n) for n in ("source", "shape", "blend", "split"))


@pytest.fixture
def project() -> Project:
    """L1 source, L2 shape, L3 = blend(L1, m=L2), L4 = blend(L3), L5 unrelated source."""
    p = Project.new("test", 64, 64)
    p.add_layer(SOURCE, {"seed": 1}, {})
    p.add_layer(SHAPE, {}, {})
    p.add_layer(BLEND, {}, {"a": "L1", "m": "L2"})
    p.add_layer(BLEND, {"amount": 1.0}, {"a": "L3"})
    p.add_layer(SOURCE, {"seed": 5}, {})
    return p


def ids(p: Project) -> list[str]:
    return [x.id for x in p.layers]


def test_delete_removes_exactly_the_descendants(project: Project) -> None:
    assert project.delete_layer("L2", dry_run=True) == ["L2", "L3", "L4"]
    assert ids(project) == ["L1", "L2", "L3", "L4", "L5"], "a dry run changes nothing"
    revision = project.revision
    assert project.delete_layer("L2") == ["L2", "L3", "L4"]
    assert ids(project) == ["L1", "L5"]
    assert project.revision == revision + 1
    project.undo()
    assert ids(project) == ["L1", "L2", "L3", "L4", "L5"]


def test_delete_top_layer_keeps_everything_else(project: Project) -> None:
    assert project.delete_layer("L4") == ["L4"]
    assert ids(project) == ["L1", "L2", "L3", "L5"]


def test_edit_marks_layer_pending_and_descendants_stale(project: Project) -> None:
    for layer in project.layers:
        layer.status, layer.blob = "ready", "0" * 64
    affected = project.edit_recipe("L1", SOURCE, {"seed": 2})
    assert affected == ["L1", "L3", "L4"]
    assert {x.id: x.status for x in project.layers} == {
        "L1": "pending",
        "L2": "ready",
        "L3": "stale",
        "L4": "stale",
        "L5": "ready",
    }
    assert project.layer("L1").recipe.params == {"seed": 2}
    assert project.needs_run() == ["L1", "L3", "L4"]


def test_edit_validates_params_and_inputs(project: Project) -> None:
    before = project.to_dict()
    with pytest.raises(InvalidParams, match="`amount`"):
        project.edit_recipe("L3", BLEND, {"amount": 2})
    with pytest.raises(InvalidParams, match="needs a mask layer but 'L1' is a image layer"):
        project.edit_recipe("L3", BLEND, inputs={"m": "L1"})
    with pytest.raises(InvalidParams, match="no layer 'L99'"):
        project.edit_recipe("L3", BLEND, inputs={"b": "L99"})
    with pytest.raises(CycleError):
        project.edit_recipe("L3", BLEND, inputs={"b": "L4"})
    assert project.to_dict() == before, "a refused edit changes nothing"


def test_edit_can_drop_an_optional_input(project: Project) -> None:
    project.edit_recipe("L3", BLEND, inputs={"m": None})
    assert project.layer("L3").recipe.inputs == {"a": "L1"}
    assert project.delete_layer("L2", dry_run=True) == ["L2"]


def test_topological_order_differs_from_stack_order(project: Project) -> None:
    project.move_layer("L4", 0)
    project.move_layer("L1", 4)
    assert ids(project) == ["L4", "L2", "L3", "L5", "L1"]
    order = project.topological_order()
    assert order.index("L1") < order.index("L3") < order.index("L4")
    assert order.index("L2") < order.index("L3")


def test_visibility_opacity_rename_and_their_bad_values(project: Project) -> None:
    project.set_visible("L1", False)
    project.set_opacity("L1", 0.25)
    project.rename_layer("L1", "  sky ")
    assert (project.layer("L1").visible, project.layer("L1").opacity, project.layer("L1").name) == (
        False,
        0.25,
        "sky",
    )
    before = project.to_dict()
    for call, arg in [
        (project.set_opacity, 1.5),
        (project.set_opacity, True),
        (project.set_visible, "yes"),
        (project.rename_layer, ""),
        (project.rename_layer, "x" * 201),
    ]:
        with pytest.raises(InvalidParams):
            call("L1", arg)
    with pytest.raises(InvalidParams, match="position"):
        project.move_layer("L1", 5)
    with pytest.raises(LayerNotFound):
        project.set_visible("L42", True)
    assert project.to_dict() == before
    for _ in range(3):
        project.undo()
    assert (project.layer("L1").visible, project.layer("L1").opacity, project.layer("L1").name) == (
        True,
        1.0,
        "Source",
    )


def test_undo_redo_and_empty_history(project: Project) -> None:
    fresh = Project.new("empty")
    with pytest.raises(NothingToUndo):
        fresh.undo()
    with pytest.raises(NothingToUndo):
        fresh.redo()
    project.rename("renamed")
    project.undo()
    assert project.name == "test"
    project.redo()
    assert project.name == "renamed"
    project.undo()
    project.add_layer(SOURCE, {}, {})
    with pytest.raises(NothingToUndo):
        project.redo()


def test_layer_ids_are_never_reused(project: Project) -> None:
    project.delete_layer("L5")
    project.undo()
    project.redo()
    assert project.add_layer(SOURCE, {}, {}).id == "L6"


def test_multi_output_groups_grow_and_shrink_with_descendants() -> None:
    p = Project.new("split")
    head = p.add_layer(SPLIT, {"count": 2}, {})
    p.set_outputs(head.id, [("mask", "a" * 64), ("mask", "b" * 64)], run=_run())
    assert ids(p) == ["L1", "L2"] and p.layer("L2").recipe.output_index == 1
    base = p.add_layer(SOURCE, {}, {})
    child = p.add_layer(BLEND, {}, {"a": base.id, "m": "L2"})
    p.edit_recipe("L2", SPLIT, {"count": 1})
    assert p.layer("L1").recipe.params == p.layer("L2").recipe.params == {"count": 1}
    removed = p.set_outputs("L1", [("mask", "c" * 64)], run=_run())
    assert removed == ["L2", child.id]
    assert ids(p) == ["L1", base.id]
    p.edit_recipe("L1", SPLIT, {"count": 3})
    p.set_outputs("L1", [("mask", "d" * 64), ("mask", "e" * 64), ("mask", "f" * 64)], run=_run())
    assert ids(p) == ["L1", "L5", "L6", base.id], "new outputs sit right above their group"
    assert [x.blob[0] for x in p.group("L6")] == ["d", "e", "f"]


def test_canvas_and_name_bounds() -> None:
    for width, height in [(0, 64), (64, 9000), (64.0, 64)]:
        with pytest.raises(InvalidParams):
            Project.new("x", width, height)  # type: ignore[arg-type]
    with pytest.raises(InvalidParams, match="name"):
        Project.new("   ")


def test_round_trip_keeps_everything(project: Project) -> None:
    project.set_visible("L1", False)
    assert Project.from_dict(project.to_dict()).to_dict() == project.to_dict()


def _run():
    from opendream.core.recipe import RunRecord

    return RunRecord(duration=0.1)


def test_default_layer_names_tell_layers_of_one_op_apart_by_their_prompt() -> None:
    p = Project.new("names")
    prompted = DAG_OPS.get("prompted")
    fox = p.add_layer(prompted, {"prompt": "  a red\nfox in the snow"}, {})
    long = p.add_layer(
        prompted, {"prompt": "a lighthouse on a cliff at dusk, oil painting, dramatic sky"}, {}
    )
    assert fox.name == "Prompted: a red fox in the snow"
    assert long.name == "Prompted: a lighthouse on a cliff at dusk, oil…"
    assert p.add_layer(prompted, {"prompt": "x"}, {}, name="mine").name == "mine"
    assert p.add_layer(SOURCE, {}, {}).name == SOURCE.title  # no prompt: the op's title


def test_history_says_what_undo_and_redo_take_back(project: Project) -> None:
    assert project.undo_label() == "Add layer “Source”"
    project.delete_layer("L3")
    assert (project.undo_label(), project.redo_label()) == ("Delete layer “Blend” and 1 made from it", None)
    project.rename_layer("L1", "sky")
    project.set_visible("L1", False)
    assert project.undo_label() == "Hide “sky”"
    project.undo()
    assert (project.undo_label(), project.redo_label()) == ("Rename layer “Source” to “sky”", "Hide “sky”")
    project.undo()
    project.undo()
    assert project.redo_label() == "Delete layer “Blend” and 1 made from it"
    project.redo()
    assert project.undo_label() == "Delete layer “Blend” and 1 made from it"
    # Stored and loaded again, the history keeps its labels.
    again = Project.from_dict(project.to_dict())
    assert (again.undo_label(), again.redo_label()) == (project.undo_label(), project.redo_label())
