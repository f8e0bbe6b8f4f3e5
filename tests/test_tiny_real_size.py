"""Every op that runs a tiny model, through the real engine, at the size the UI proposes
(512x512): the tiny models are SD-shaped, so ``--tiny-models`` works there, not only at 64."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from bench.tiny import model_layers

from opendream.core.project import Project
from opendream.engine.workspace import Workspace
from opendream.settings import Settings

SIDE = 512


@pytest.fixture
def tiny_workspace(tiny_dir: Path, tmp_path: Path, pinned_threads: int) -> Iterator[Workspace]:
    workspace = Workspace(
        Settings(data_dir=tmp_path, tiny_models=True, tiny_models_dir=tiny_dir, device="cpu")
    )
    yield workspace
    workspace.close()


def test_every_tiny_model_op_runs_at_512(tiny_workspace: Workspace) -> None:
    project = Project.new("real size", SIDE, SIDE)
    timed = dict(model_layers(tiny_workspace, project, steps=4, dream_only=False))
    tiny_workspace.runner.run_pending(project)
    failed = {x.id: x.run.error for x in project.layers if x.status != "ready" and x.run}
    assert not failed
    for label, layer_id in timed.items():
        layer = project.layer(layer_id)
        image = tiny_workspace.data.blobs.get_image(layer.blob)
        assert image.size == (SIDE, SIDE), label
        if layer.kind == "image":  # a picture, not a flat fill
            assert np.asarray(image, np.float32).std() > 1.0, label
    assert project.layer(timed["dream"]).recipe.params["width"] == SIDE, "dream took the canvas size"


@pytest.mark.parametrize("family", ["sdxl", "flux1", "qwen-image"])
def test_other_families_at_512_through_the_engine(
    family: str, family_dirs: dict, tiny_workspace: Workspace
) -> None:
    """dream, then img2img on its result, with another family's tiny pipeline at the size the
    UI proposes (the transformer families pack 2x2 latent patches: 1024 tokens at 512)."""
    model = str(family_dirs[family])
    project = Project.new("families at 512", SIDE, SIDE)
    registry = tiny_workspace.registry
    dream = project.add_layer(registry.get("dream"), {"prompt": "a", "steps": 2, "model": model}, {})
    redrawn = project.add_layer(
        registry.get("img2img"),
        {"prompt": "b", "steps": 2, "strength": 1.0, "model": model},
        {"image_layer": dream.id},
    )
    tiny_workspace.runner.run_pending(project)
    for layer in (dream, redrawn):
        state = project.layer(layer.id)
        assert state.status == "ready", state.run.error if state.run else state
        assert tiny_workspace.data.blobs.get_image(state.blob).size == (SIDE, SIDE)
        assert state.run.environment["models"]["dream"]["family"] == family
