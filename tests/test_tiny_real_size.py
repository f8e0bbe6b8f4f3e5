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
