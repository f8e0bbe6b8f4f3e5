"""Workflows inside PNGs (the `opendream` iTXt chunk), A1111 parameters, and format detection."""

from __future__ import annotations

import io
import json
import os
import struct
import zlib

import pytest
from PIL import Image

from opendream.core.errors import ImageRejected, WorkflowError
from opendream.core.images import decode_image
from opendream.core.project import Project
from opendream.core.recipe import Recipe
from opendream.core.workflow import (
    a1111_parameters,
    detect_format,
    embed_workflow_png,
    export_workflow,
    extract_workflow_png,
    import_any,
    parse_workflow,
    strip_workflow_png,
)
from tests.workflow_fixtures import WF_OPS, jpeg, picture, png, sample_project


@pytest.fixture
def exported() -> tuple[Project, dict]:
    project, blobs = sample_project()
    return project, export_workflow(project, WF_OPS, blobs.__getitem__)


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def test_embed_then_extract_gives_back_the_workflow_and_the_pixels(exported: tuple[Project, dict]) -> None:
    project, doc = exported
    original = picture(3, size=32)
    out = embed_workflow_png(png(original), doc, "a beach\nSteps: 20, Seed: 7")
    assert extract_workflow_png(out) == doc
    with Image.open(io.BytesIO(out)) as image:
        assert image.format == "PNG"
        assert image.text["parameters"] == "a beach\nSteps: 20, Seed: 7"
        assert image.convert("RGB").tobytes() == original.tobytes()
    imported = import_any(out, WF_OPS)
    assert [x.recipe for x in imported.project.layers] == [x.recipe for x in project.layers]


def test_embedding_twice_replaces_the_workflow(exported: tuple[Project, dict]) -> None:
    _, doc = exported
    first = embed_workflow_png(png(picture(1)), {"old": True})
    second = embed_workflow_png(first, doc)
    assert extract_workflow_png(second) == doc
    assert second.count(b"iTXtopendream\0") == 1
    with Image.open(io.BytesIO(second)) as image:
        assert "parameters" not in image.text


def test_a_large_self_contained_workflow_survives_the_png() -> None:
    """Pillow refuses compressed text over 1 MiB; a self-contained export is often bigger."""
    project, blobs = sample_project()
    noise = Image.frombytes("RGB", (640, 640), os.urandom(640 * 640 * 3))
    digest = blobs.put(noise)
    project.set_outputs("L4", [("image", digest)], project.layer("L4").run)
    doc = export_workflow(project, WF_OPS, blobs.__getitem__, embed="all")
    assert len(json.dumps(doc)) > 1_200_000
    out = embed_workflow_png(png(picture(1)), doc)
    assert extract_workflow_png(out) == doc
    assert parse_workflow(extract_workflow_png(out), WF_OPS).assets[digest] == blobs[digest]
    with pytest.raises(ImageRejected):
        decode_image(out)  # what Pillow alone would do with it
    assert decode_image(strip_workflow_png(out)).size == (16, 16)


def test_non_latin_parameters_are_kept() -> None:
    out = embed_workflow_png(png(picture(1)), {"x": 1}, "un chat sur la plage, 猫")
    with Image.open(io.BytesIO(out)) as image:
        assert image.text["parameters"] == "un chat sur la plage, 猫"


def test_a_png_without_the_chunk_is_refused() -> None:
    with pytest.raises(WorkflowError, match="this PNG carries no Opendream workflow"):
        extract_workflow_png(png(picture(1)))
    with pytest.raises(WorkflowError, match="no Opendream workflow"):
        import_any(png(picture(1)), WF_OPS)


def test_a_png_claiming_20000_by_20000_pixels_is_refused_before_decoding() -> None:
    small = embed_workflow_png(png(picture(1)), {"x": 1})
    ihdr = small[16:29]
    huge_ihdr = struct.pack(">II", 20000, 20000) + ihdr[8:]
    bomb = small[:8] + _chunk(b"IHDR", huge_ihdr) + small[33:]
    with pytest.raises(ImageRejected, match=r"too large|pixels"):
        extract_workflow_png(bomb)
    with pytest.raises(ImageRejected):
        import_any(bomb, WF_OPS)


@pytest.mark.parametrize(
    "data", [b"", b"GIF89a\x01\x00\x01\x00", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, os.urandom(300)]
)
def test_non_image_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(ImageRejected):
        extract_workflow_png(data)


def test_a_truncated_png_is_refused() -> None:
    data = embed_workflow_png(png(picture(1)), {"x": 1})
    with pytest.raises(ImageRejected, match="truncated"):
        extract_workflow_png(data[:-20])


def test_a_jpeg_carries_no_workflow() -> None:
    with pytest.raises(WorkflowError, match="this JPEG image carries no Opendream workflow"):
        extract_workflow_png(jpeg(picture(1)))
    with pytest.raises(ImageRejected, match="only be embedded in a PNG"):
        embed_workflow_png(jpeg(picture(1)), {"x": 1})


def test_a_corrupt_chunk_is_refused() -> None:
    data = bytearray(embed_workflow_png(png(picture(1)), {"x": 1}))
    at = data.index(b"iTXtopendream") + 20
    data[at] ^= 0xFF
    with pytest.raises(WorkflowError, match="CRC mismatch"):
        extract_workflow_png(bytes(data))


def test_the_embedded_workflow_is_size_limited() -> None:
    data = embed_workflow_png(png(picture(1)), {"padding": "x" * 5000})
    with pytest.raises(WorkflowError, match="larger than 1000 bytes"):
        extract_workflow_png(data, max_bytes=1000)


def test_a_deeply_nested_embedded_workflow_is_refused() -> None:
    body = b"opendream\0\0\0\0\0" + b"[" * 100 + b"]" * 100
    plain = png(picture(1))
    data = plain[:33] + _chunk(b"iTXt", body) + plain[33:]
    with pytest.raises(WorkflowError, match="too deeply nested"):
        extract_workflow_png(data)


def test_a1111_parameters() -> None:
    recipe = Recipe(
        "dream",
        "1",
        {
            "prompt": "a cat",
            "negative_prompt": "blurry",
            "steps": 20,
            "scheduler": "euler_a",
            "guidance_scale": 7.5,
            "seed": 42,
            "width": 512,
            "height": 768,
        },
    )
    project = Project.new("x")
    layer = project.add_layer(WF_OPS.get("dream"), {"prompt": "x"}, {})
    layer.recipe = recipe
    assert a1111_parameters(layer) == (
        "a cat\nNegative prompt: blurry\nSteps: 20, Sampler: euler_a, CFG scale: 7.5, Seed: 42, Size: 512x768"
    )
    layer.recipe = Recipe("dream", "1", {"prompt": "a cat", "num_steps": 4, "model_ckpt": "sd15"})
    assert a1111_parameters(layer) == "a cat\nSteps: 4, Model: sd15"
    layer.recipe = Recipe("invert_mask", "1", {})
    assert a1111_parameters(layer) == ""


def test_detect_format(exported: tuple[Project, dict]) -> None:
    _, doc = exported
    assert detect_format(json.dumps(doc).encode()) == "workflow"
    assert detect_format(doc) == "workflow"
    assert detect_format(embed_workflow_png(png(picture(1)), doc)) == "png"
    assert detect_format({"0": {"op": "dream", "params": ["x"], "options": {}}}) == "original"
    for bad in (b"{}", b"[]", b'{"0": 1}', b"hello"):
        with pytest.raises(WorkflowError):
            detect_format(bad)
