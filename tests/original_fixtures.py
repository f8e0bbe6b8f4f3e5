"""Material shared by the tests of extensions written for the original Opendream: the
original-style extension files and an override of a cheap built-in op."""

from __future__ import annotations

from pathlib import Path

from opendream.core.project import Project
from opendream.core.registry import REGISTRY
from opendream.engine.workspace import Workspace
from tests.helpers import square_mask

ORIGINALS = Path(__file__).parent / "fixtures" / "original_style" / "extensions"

# An original-style override of a cheap built-in op (no models needed to run either version).
INVERT_OVERRIDE = """
from opendream import opendream
from opendream.layer import MaskLayer


@opendream.define_op
def invert_mask(mask: MaskLayer, **kwargs):
    # Not an inversion: a recognisable, different result.
    return MaskLayer(image=mask.get_image().point(lambda v: 128))
"""


def mask_project(workspace: Workspace) -> Project:
    project = Project.new("masks", 32, 32)
    digest = workspace.data.blobs.put_image(square_mask(32, (8, 8, 24, 24)))
    project.add_layer(REGISTRY.get("paint_mask"), {"asset": f"sha256:{digest}"}, {})
    project.add_layer(REGISTRY.get("invert_mask"), {}, {"mask": "L1"})
    return project
