"""Textual-inversion embeddings told from their safetensors header alone: whether a file is one
(a few vectors under one key: A1111's ``emb_params`` or diffusers' token; SDXL's under
``clip_l`` and ``clip_g``), the family it was trained for (by the vectors' width) and how
many vectors it has. As in A1111, a prompt uses one by writing its file's name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opendream.diffusion.families import FAMILY_NAMES, read_header

_WIDTHS = {768: "sd1", 1024: "sd2"}
_SDXL_KEYS = {"clip_l", "clip_g"}
MAX_VECTORS = 75  # a prompt chunk's tokens: more could not be written in one
#: What a name has to look like to be written in a prompt as one word.
_NAME = re.compile(r"^[\w.-]{1,100}$")


def _word(name: str) -> str:
    """A pattern of ``name`` as a word of its own (not part of a longer name)."""
    return rf"(?<![\w.-]){re.escape(name)}(?![\w-])"


@dataclass(frozen=True)
class EmbeddingFile:
    """An embedding file; ``name`` is what a prompt writes to use it (its file's stem)."""

    model: str
    name: str
    family: str | None
    vectors: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "name": self.name,
            "family": self.family,
            "title": FAMILY_NAMES.get(self.family, "unknown family") if self.family else "unknown family",
            "vectors": self.vectors,
            "bytes": self.bytes,
        }

    def used_in(self, text: str) -> bool:
        """Whether ``text`` writes this embedding's name as a word of its own."""
        return re.search(_word(self.name), text) is not None


def embedding_file(path: Path) -> EmbeddingFile | None:
    """``path`` as an embedding, or ``None`` when it is none (or not readable safetensors)."""
    if not _NAME.match(path.stem):
        return None
    try:
        header = read_header(path)
    except (OSError, ValueError):
        return None
    shapes = {name: entry.get("shape") for name, entry in header.items() if name != "__metadata__"}
    if not shapes or any(not isinstance(s, list) or len(s) not in (1, 2) for s in shapes.values()):
        return None
    rows = {name: (1 if len(shape) == 1 else shape[0]) for name, shape in shapes.items()}
    if set(shapes) == _SDXL_KEYS:
        family = "sdxl" if shapes["clip_l"][-1] == 768 and shapes["clip_g"][-1] == 1280 else None
    elif len(shapes) == 1:
        family = _WIDTHS.get(next(iter(shapes.values()))[-1])
    else:
        return None
    vectors = max(rows.values())
    if not 1 <= vectors <= MAX_VECTORS:
        return None
    return EmbeddingFile(str(path), path.stem, family, vectors, path.stat().st_size)


def with_tokens(text: str, tokens: dict[str, str]) -> str:
    """``text`` with each embedding name written in it replaced by the token it is loaded as."""
    for name, token in tokens.items():
        text = re.sub(_word(name), token, text)
    return text
