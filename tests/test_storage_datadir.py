from __future__ import annotations

from pathlib import Path

from opendream.storage.datadir import open_data_dir


def test_open_creates_the_layout(tmp_path: Path) -> None:
    root = tmp_path / "data"
    assert not root.exists()
    data = open_data_dir(root)
    assert data.path == root
    assert (root / "opendream.db").is_file()
    assert data.blobs.root == root / "blobs"
    assert (root / "blobs").is_dir()
    assert data.extensions_dir == root / "extensions"
    assert data.extensions_dir.is_dir()
    assert data.db.integrity_check() == "ok"
    data.close()


def test_reopen_keeps_projects_and_blobs(tmp_path: Path) -> None:
    data = open_data_dir(tmp_path)
    digest = data.blobs.put(b"pixels")
    data.db.create_project({"id": "p1", "name": "one", "revision": 1})
    data.close()

    again = open_data_dir(tmp_path)
    assert again.blobs.get(digest) == b"pixels"
    assert again.db.load_project("p1")["name"] == "one"
    again.close()
