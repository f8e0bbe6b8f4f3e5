from __future__ import annotations

import hashlib
import io
import os
import threading
from pathlib import Path

import pytest
from PIL import Image

from opendream.core.errors import BlobCorrupt, BlobMissing
from opendream.storage.blobs import BlobStore


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_put_get_roundtrip_and_layout(store: BlobStore) -> None:
    data = b"some bytes"
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.path(digest) == store.root / digest[:2] / f"{digest[2:]}.png"
    assert store.path(digest).read_bytes() == data
    assert store.has(digest)
    assert store.get(digest) == data


def test_put_is_idempotent(store: BlobStore) -> None:
    first = store.put(b"same")
    inode = store.path(first).stat().st_ino
    assert store.put(b"same") == first
    assert store.path(first).stat().st_ino == inode  # not rewritten
    assert _files(store.root) == [store.path(first)]


def test_corrupted_blob_is_detected_and_put_repairs_it(store: BlobStore) -> None:
    data = b"precious pixels"
    digest = store.put(data)
    path = store.path(digest)
    flipped = bytearray(path.read_bytes())
    flipped[3] ^= 0x01
    path.write_bytes(bytes(flipped))
    with pytest.raises(BlobCorrupt) as excinfo:
        store.get(digest)
    assert excinfo.value.digest == digest
    store.put(data)
    assert store.get(digest) == data


def test_missing_blob(store: BlobStore) -> None:
    digest = hashlib.sha256(b"never stored").hexdigest()
    assert not store.has(digest)
    with pytest.raises(BlobMissing) as excinfo:
        store.get(digest)
    assert excinfo.value.digest == digest


_REAL = hashlib.sha256(b"x").hexdigest()


@pytest.mark.parametrize(
    "bad",
    [
        "../../etc/passwd",
        "../" + "a" * 61,
        "/" + "a" * 63,
        _REAL.upper(),
        _REAL[:10],
        "",
        _REAL + "0",
        _REAL[:-1] + "g",
        _REAL + "\n",
        _REAL[:62] + "/.",
    ],
)
def test_invalid_digests_are_refused(store: BlobStore, bad: str) -> None:
    store.put(b"x")  # the digest some bad values are derived from exists
    for call in (store.path, store.has, store.get, store.get_image, store.thumbnail):
        with pytest.raises(ValueError, match="not a sha256 hex digest"):
            call(bad)


def test_write_leaves_no_temp_files_and_fsyncs(store: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    digests = [store.put(bytes([i]) * 100) for i in range(5)]
    assert _files(store.root) == sorted(store.path(d) for d in digests)
    assert len(synced) >= 10  # each blob: its file and its folder


def test_failed_write_leaves_neither_temp_file_nor_blob(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(src: str, dst: str) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        store.put(b"doomed")
    assert _files(store.root) == []


def test_concurrent_puts_of_the_same_bytes(store: BlobStore) -> None:
    data = os.urandom(256 * 1024)
    barrier = threading.Barrier(16)
    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(store.put(data))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert set(results) == {hashlib.sha256(data).hexdigest()}
    assert store.get(results[0]) == data
    assert _files(store.root) == [store.path(results[0])]


def test_put_image_get_image_roundtrip(store: BlobStore) -> None:
    image = Image.new("RGB", (5, 3), (10, 200, 30))
    image.putpixel((4, 2), (1, 2, 3))
    digest = store.put_image(image)
    assert store.put_image(image.copy()) == digest  # equal pixels, equal blob
    back = store.get_image(digest)
    assert back.size == (5, 3)
    assert back.tobytes() == image.tobytes()


def _thumb_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as thumb:
        assert thumb.format == "PNG"
        return thumb.size


def test_thumbnail_fits_and_keeps_aspect(store: BlobStore) -> None:
    digest = store.put_image(Image.new("RGB", (400, 200), "red"))
    assert _thumb_size(store.thumbnail(digest)) == (128, 64)
    assert _thumb_size(store.thumbnail(digest, max_side=50)) == (50, 25)


def test_thumbnail_never_enlarges(store: BlobStore) -> None:
    digest = store.put_image(Image.new("L", (20, 10), 7))
    assert _thumb_size(store.thumbnail(digest, max_side=128)) == (20, 10)


def test_thumbnail_is_a_cached_blob(store: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    digest = store.put_image(Image.new("RGB", (300, 300), "blue"))
    thumb = store.thumbnail(digest)
    assert store.get(hashlib.sha256(thumb).hexdigest()) == thumb

    def no_decoding(_digest: str) -> Image.Image:
        raise AssertionError("thumbnail recomputed instead of cached")

    monkeypatch.setattr(store, "get_image", no_decoding)
    assert store.thumbnail(digest) == thumb


def test_damaged_thumbnail_is_recomputed(store: BlobStore) -> None:
    digest = store.put_image(Image.new("RGB", (300, 300), "green"))
    thumb = store.thumbnail(digest)
    thumb_path = store.path(hashlib.sha256(thumb).hexdigest())
    thumb_path.write_bytes(b"garbage")
    assert store.thumbnail(digest) == thumb
    assert thumb_path.read_bytes() == thumb


def test_thumbnail_refuses_bad_size(store: BlobStore) -> None:
    digest = store.put_image(Image.new("RGB", (4, 4)))
    with pytest.raises(ValueError, match="max_side"):
        store.thumbnail(digest, max_side=0)


def test_thumbnail_of_missing_blob(store: BlobStore) -> None:
    with pytest.raises(BlobMissing):
        store.thumbnail(_REAL)
