"""The models available here without downloading anything, each with its family: pipelines in
the Hugging Face cache (read with ``huggingface_hub.scan_cache_dir``, which only reads the
disk), and pipeline folders and single-file checkpoints directly inside the model folders; and
the LoRA files in the model folders and their subfolders (``lora_files.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opendream.diffusion.embedding_files import EmbeddingFile, embedding_file
from opendream.diffusion.families import Family, checkpoint_family, family_params, folder_family
from opendream.diffusion.lora_files import LoraFile, lora_file
from opendream.diffusion.model_sources import model_roots


@dataclass(frozen=True)
class LocalModel:
    """One model: ``model`` is what an op's ``model`` parameter takes (a hub repo id or a path)."""

    model: str
    kind: str  # "hub", "folder" or "safetensors"
    family: Family | None
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "kind": self.kind,
            "family": self.family.name if self.family else None,
            "variant": self.family.variant if self.family else None,
            "title": self.family.title if self.family else "unknown family",
            "bytes": self.bytes,
            "defaults": family_params(self.family) if self.family else {},
        }


def local_models(settings: Any) -> list[LocalModel]:
    """Every pipeline and checkpoint of the model folders and the Hugging Face cache, by name."""
    from huggingface_hub import constants

    hub_cache = Path(constants.HF_HUB_CACHE).resolve()
    found = [*_hub_models(hub_cache)]
    for root in model_roots(settings):
        if root.resolve() != hub_cache and root.is_dir():
            found.extend(_folder_models(root))
    return sorted(found, key=lambda m: m.model)


def _hub_models(cache: Path) -> list[LocalModel]:
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(cache)
    except CacheNotFound:
        return []
    models = []
    for repo in info.repos:
        if repo.repo_type != "model":
            continue
        # The revision ``main`` points at (what a plain repo id loads), else the newest.
        revisions = sorted(repo.revisions, key=lambda r: ("main" in r.refs, r.last_modified))
        if revisions and (revisions[-1].snapshot_path / "model_index.json").is_file():
            family = folder_family(revisions[-1].snapshot_path)
            models.append(LocalModel(repo.repo_id, "hub", family, repo.size_on_disk))
    return models


def _folder_models(root: Path) -> list[LocalModel]:
    models = []
    for path in sorted(root.iterdir()):
        if path.is_dir() and (path / "model_index.json").is_file():
            size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            models.append(LocalModel(str(path), "folder", folder_family(path), size))
        elif path.is_file() and path.suffix.lower() == ".safetensors" and lora_file(path) is None:
            models.append(LocalModel(str(path), "safetensors", checkpoint_family(path), path.stat().st_size))
    return models


def _safetensors_files(settings: Any) -> list[Path]:
    """The ``.safetensors`` files in the model folders and one level below (``models/Lora`` …)."""
    return [
        path
        for root in model_roots(settings)
        if root.is_dir()
        for path in [*root.glob("*.safetensors"), *root.glob("*/*.safetensors")]
    ]


def local_loras(settings: Any) -> list[LoraFile]:
    """The LoRA files in the model folders and their subfolders, by path."""
    found = {
        lora.model: lora for path in _safetensors_files(settings) if (lora := lora_file(path)) is not None
    }
    return sorted(found.values(), key=lambda lora: lora.model)


def local_embeddings(settings: Any) -> list[EmbeddingFile]:
    """The textual-inversion embeddings in the model folders and their subfolders
    (``models/embeddings`` …), by name; of two files of one name, the first folder's."""
    found: dict[str, EmbeddingFile] = {}
    for path in _safetensors_files(settings):
        embedding = embedding_file(path)
        if embedding is not None:
            found.setdefault(embedding.name, embedding)
    return sorted(found.values(), key=lambda embedding: embedding.name)
