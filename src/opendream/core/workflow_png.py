"""Workflows inside exported PNGs: an iTXt chunk named ``opendream`` holding the workflow JSON,
plus an A1111-style ``parameters`` text chunk that other tools show.

Reading does not go through Pillow's text handling: Pillow refuses compressed text over
1 MiB, and a self-contained workflow is often larger. The chunk is read here with the same
byte limit as a JSON workflow, and the image itself is validated (format, pixel count) by
``decode_image`` before the workflow is decompressed."""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import Iterator
from typing import Any

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from opendream.core.errors import ImageRejected, WorkflowError
from opendream.core.images import decode_image
from opendream.core.recipe import LayerState
from opendream.core.workflow_common import MAX_DEPTH, MAX_WORKFLOW_BYTES, load_json

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHUNK_KEY = "opendream"
_ITXT_PREFIX = CHUNK_KEY.encode("latin-1") + b"\0"


def embed_workflow_png(png_bytes: bytes, workflow: dict, parameters: str | None = None) -> bytes:
    """``png_bytes`` re-saved with ``workflow`` in a compressed ``opendream`` iTXt chunk and,
    when given, ``parameters`` (A1111 style) in a ``parameters`` text chunk."""
    image = decode_image(strip_workflow_png(png_bytes))
    if image.format != "PNG":
        raise ImageRejected(f"a workflow can only be embedded in a PNG, not a {image.format}")
    return workflow_png(image, workflow, parameters)


def workflow_png(image: Image.Image, workflow: dict, parameters: str | None = None) -> bytes:
    """``image`` as a PNG carrying ``workflow`` and ``parameters`` as ``embed_workflow_png``
    writes them, encoded once (an export does not decode its own canvas again)."""
    info = PngInfo()
    text = json.dumps(workflow, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
    info.add_itxt(CHUNK_KEY, text, zip=True)
    if parameters:
        info.add_text("parameters", parameters)  # tEXt, or iTXt when not Latin-1
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info, compress_level=6)
    return buffer.getvalue()


def extract_workflow_png(
    png_bytes: bytes, *, max_bytes: int = MAX_WORKFLOW_BYTES, max_depth: int = MAX_DEPTH
) -> dict:
    """The workflow document embedded by ``embed_workflow_png`` (not yet validated: pass it
    to ``parse_workflow``). Raises ``ImageRejected`` for a bad image, ``WorkflowError`` when
    the PNG carries no workflow."""
    if png_bytes[:8] != PNG_SIGNATURE:
        image = decode_image(png_bytes)  # refuses non-images and oversized images
        raise WorkflowError(f"this {image.format} image carries no Opendream workflow; only exported PNGs do")
    decode_image(strip_workflow_png(png_bytes))
    found = [
        (start, end) for ctype, start, end in _chunks(png_bytes) if _is_workflow(png_bytes, ctype, start)
    ]
    if not found:
        raise WorkflowError("this PNG carries no Opendream workflow (no `opendream` iTXt chunk)")
    start, end = found[0]
    if zlib.crc32(png_bytes[start + 4 : end - 4]) != int.from_bytes(png_bytes[end - 4 : end], "big"):
        raise WorkflowError("the `opendream` chunk of this PNG is corrupt (CRC mismatch)")
    text = _itxt_text(png_bytes[start + 8 : end - 4], max_bytes)
    document = load_json(text, max_bytes=max_bytes, max_depth=max_depth)
    if not isinstance(document, dict):
        raise WorkflowError("the workflow in this PNG is not a JSON object")
    return document


def a1111_parameters(layer: LayerState) -> str:
    """AUTOMATIC1111's ``parameters`` text for a generated layer, from whichever of the usual
    params it has: prompt, negative prompt, then ``Steps: N, Sampler: X, CFG scale: Y, Seed: S,
    Size: WxH, Model: M``. Empty when the layer has none of them."""
    params = layer.recipe.params

    def first(*names: str) -> Any:
        return next((params[n] for n in names if params.get(n) not in (None, "")), None)

    lines = []
    prompt = first("prompt")
    if prompt is not None:
        lines.append(str(prompt))
    negative = first("negative_prompt", "negative")
    if negative is not None:
        lines.append(f"Negative prompt: {negative}")
    fields = {
        "Steps": first("steps", "num_steps", "num_inference_steps"),
        "Sampler": first("sampler", "scheduler"),
        "CFG scale": first("cfg_scale", "guidance_scale"),
        "Seed": first("seed"),
        "Size": f"{params['width']}x{params['height']}" if first("width") and first("height") else None,
        "Model": first("model", "model_ckpt"),
    }
    settings = ", ".join(f"{key}: {value}" for key, value in fields.items() if value is not None)
    if settings:
        lines.append(settings)
    return "\n".join(lines)


# --- PNG chunks ----------------------------------------------------------------------------------


def _chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, start, end) of each chunk after the signature, up to IEND."""
    pos = len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        ctype = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise ImageRejected("PNG is truncated")
        yield ctype, pos, end
        if ctype == b"IEND":
            return
        pos = end


def _is_workflow(data: bytes, ctype: bytes, start: int) -> bool:
    return ctype == b"iTXt" and data[start + 8 : start + 8 + len(_ITXT_PREFIX)] == _ITXT_PREFIX


def strip_workflow_png(data: bytes) -> bytes:
    """The PNG minus its ``opendream`` chunks, other bytes unchanged. Pillow refuses text
    chunks over 1 MiB: strip before decoding an exported PNG as a picture (e.g. an upload)."""
    if data[:8] != PNG_SIGNATURE:
        return data
    kept = [data[start:end] for ctype, start, end in _chunks(data) if not _is_workflow(data, ctype, start)]
    return PNG_SIGNATURE + b"".join(kept)


def _itxt_text(body: bytes, max_bytes: int) -> bytes:
    """The UTF-8 text of an iTXt chunk body, decompressed to at most ``max_bytes``."""
    try:
        _keyword, rest = body.split(b"\0", 1)
        compressed, method, rest = rest[0], rest[1], rest[2:]
        _language, _translated, text = rest.split(b"\0", 2)
    except (ValueError, IndexError):
        raise WorkflowError("the `opendream` chunk of this PNG is malformed") from None
    if not compressed:
        return text
    if method != 0:
        raise WorkflowError("the `opendream` chunk of this PNG uses an unknown compression")
    inflater = zlib.decompressobj()
    try:
        plain = inflater.decompress(text, max_bytes + 1)
    except zlib.error:
        raise WorkflowError("the `opendream` chunk of this PNG is corrupt") from None
    if len(plain) > max_bytes:
        raise WorkflowError(f"the workflow in this PNG is larger than {max_bytes} bytes")
    if not inflater.eof:
        raise WorkflowError("the `opendream` chunk of this PNG is truncated")
    return plain
