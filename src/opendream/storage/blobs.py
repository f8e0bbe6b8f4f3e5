"""Content-addressed store of immutable bytes (PNG images), named by their sha256.

Layout: ``root/ab/cdef….png`` where ``abcdef…`` is the hex digest. Writes are atomic
(a crash leaves either the whole blob or nothing, never a torn file) and reads verify
the hash, so a blob changed on disk is reported instead of silently served."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from PIL import Image

from opendream.core.errors import BlobCorrupt, BlobMissing
from opendream.core.images import decode_image, encode_png, peek_size
from opendream.storage.files import atomic_write

_DIGEST = re.compile(r"[0-9a-f]{64}")


def validate_digest(digest: str) -> str:
    """Return ``digest`` if it is 64 lowercase hex characters, else raise ``ValueError``.

    Digests come from URLs and files; checking them before building a path rules out
    path traversal (``../../etc/passwd``) and aliasing (upper-case twins)."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ValueError(f"not a sha256 hex digest: {digest!r}")
    return digest


class BlobStore:
    """Immutable blobs under ``root``; safe to share between threads and processes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        validate_digest(digest)
        return self.root / digest[:2] / f"{digest[2:]}.png"

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its hex digest. Idempotent; a corrupted copy is rewritten."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not self._intact(target, digest):
            atomic_write(target, data)
        return digest

    def get(self, digest: str) -> bytes:
        """The blob's bytes; ``BlobMissing`` if absent, ``BlobCorrupt`` if they no longer match."""
        try:
            data = self.path(digest).read_bytes()
        except FileNotFoundError:
            raise BlobMissing(digest) from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise BlobCorrupt(digest)
        return data

    def put_image(self, image: Image.Image) -> str:
        return self.put(encode_png(image))

    def get_image(self, digest: str) -> Image.Image:
        return decode_image(self.get(digest))

    def image_size(self, digest: str) -> tuple[int, int]:
        """The blob's width and height from its PNG header, without decoding it."""
        if not self.has(digest):
            raise BlobMissing(digest)
        return peek_size(self.path(digest))

    def thumbnail(self, digest: str, max_side: int = 128) -> bytes:
        """PNG of the image shrunk to fit ``max_side`` (never enlarged), aspect kept.

        The thumbnail is itself a blob; a sidecar file maps (digest, max_side) to it so
        it is computed once. A lost or damaged thumbnail is simply recomputed."""
        validate_digest(digest)
        if max_side < 1:
            raise ValueError(f"max_side must be at least 1, got {max_side}")
        sidecar = self.root / "thumbs" / digest[:2] / f"{digest[2:]}.{max_side}"
        try:
            return self.get(validate_digest(sidecar.read_text("ascii")))
        except (OSError, UnicodeDecodeError, ValueError, BlobMissing, BlobCorrupt):
            pass
        image = self.get_image(digest)
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        data = encode_png(image)
        atomic_write(sidecar, self.put(data).encode("ascii"))
        return data

    @staticmethod
    def _intact(target: Path, digest: str) -> bool:
        try:
            return hashlib.sha256(target.read_bytes()).hexdigest() == digest
        except FileNotFoundError:
            return False
