"""Textual-inversion embeddings (issue 15 §2) through diffusers' real loading code, with tiny
random embeddings written at test time in A1111's, diffusers' and SDXL's formats: a prompt that
writes an embedding's name uses it, other prompts keep their exact pixels, a changed file is a
new cache key and new pixels, and one that does not fit the model fails naming both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from opendream.core.errors import ModelUnavailable
from opendream.core.registry import REGISTRY
from opendream.diffusion.embedding_files import embedding_file, with_tokens
from opendream.diffusion.manager import ModelManager
from opendream.settings import Settings
from tests.diffusion_fixtures import make_context, run_op

DREAM = {"width": 64, "height": 64, "steps": 2, "seed": 5}


def _width(folder: Path, encoder: str = "text_encoder") -> int:
    return json.loads((folder / encoder / "config.json").read_text())["hidden_size"]


def _save(path: Path, tensors: dict[str, torch.Tensor]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))
    return path


@pytest.fixture
def folder(tmp_path: Path, tiny_dir: Path, family_dirs: dict[str, Path]) -> Path:
    """sparkle: A1111's format, 2 vectors; glow: diffusers', 1; neon: SDXL's; wide: SD 1.x's 768."""
    generator = torch.Generator().manual_seed(0)
    width = _width(tiny_dir / "txt2img")
    sdxl = family_dirs["sdxl"]
    embeddings = tmp_path / "models" / "embeddings"
    _save(embeddings / "sparkle.safetensors", {"emb_params": torch.randn(2, width, generator=generator) * 3})
    _save(embeddings / "glow.safetensors", {"<glow>": torch.randn(width, generator=generator) * 3})
    _save(
        embeddings / "neon.safetensors",
        {
            "clip_l": torch.randn(1, _width(sdxl), generator=generator) * 3,
            "clip_g": torch.randn(1, _width(sdxl, "text_encoder_2"), generator=generator) * 3,
        },
    )
    _save(embeddings / "wide.safetensors", {"emb_params": torch.randn(1, 768, generator=generator)})
    return tmp_path / "models"


@pytest.fixture
def settings(tiny_dir: Path, folder: Path, tmp_path: Path) -> Settings:
    return Settings(
        tiny_models=True,
        tiny_models_dir=tiny_dir,
        data_dir=tmp_path / "data",
        device="cpu",
        model_dirs=[folder],
    )


@pytest.fixture
def manager(settings: Settings, pinned_threads: int) -> ModelManager:
    return ModelManager(settings, device="cpu", dtype="float32")


def dream(manager: ModelManager, settings: Settings, **params: Any) -> np.ndarray:
    (layer,) = run_op("dream", {**DREAM, **params}, {}, manager, settings)
    return np.asarray(layer.image)


def test_files_are_told_by_their_header(folder: Path, tmp_path: Path) -> None:
    told = {path.stem: embedding_file(path) for path in (folder / "embeddings").iterdir()}
    assert {name: (e.family, e.vectors) for name, e in told.items() if e} == {
        "sparkle": (None, 2),  # the tiny encoder's width tells no family
        "glow": (None, 1),
        "neon": (None, 1),
        "wide": ("sd1", 1),
    }
    lora_like = _save(
        tmp_path / "x.safetensors",
        {"a.lora_A.weight": torch.zeros(2, 2), "a.lora_B.weight": torch.zeros(2, 2)},
    )
    assert embedding_file(lora_like) is None
    (tmp_path / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    assert embedding_file(tmp_path / "broken.safetensors") is None


def test_only_whole_words_are_an_embeddings_name() -> None:
    tokens = {"sparkle": "emb_1"}
    assert with_tokens("a sparkle, (sparkle:1.2) sparkles sparkle-x sparkle.", tokens) == (
        "a emb_1, (emb_1:1.2) sparkles sparkle-x emb_1."
    )


def test_a_prompt_naming_an_embedding_uses_it_and_others_keep_their_pixels(manager, settings) -> None:
    plain = dream(manager, settings, prompt="a lighthouse at dusk")
    used = dream(manager, settings, prompt="a lighthouse at dusk, sparkle")
    as_word = dream(manager, settings, prompt="a lighthouse at dusk, sparkles")
    assert not np.array_equal(used, as_word)
    assert np.array_equal(dream(manager, settings, prompt="a lighthouse at dusk"), plain), (
        "loading changed nothing else"
    )
    assert np.array_equal(dream(manager, settings, prompt="a lighthouse at dusk, sparkle"), used), (
        "replayable"
    )
    assert manager.stats["loads"] == 3, (
        "the base, the previews' tiny autoencoder and the embedding, each once"
    )
    single = dream(manager, settings, prompt="a lighthouse at dusk, glow")
    assert not np.array_equal(single, plain)
    weighted = dream(manager, settings, prompt="a lighthouse at dusk, (sparkle:1.4)")
    assert not np.array_equal(weighted, used), "weights work on an embedding's vectors too"
    negative = dream(manager, settings, prompt="a lighthouse at dusk", negative_prompt="glow")
    assert not np.array_equal(negative, plain)


def test_the_run_records_it_and_the_cache_key_follows_the_file(manager, settings, folder: Path) -> None:
    spec = REGISTRY.get("dream")
    params = spec.validate_params({**DREAM, "prompt": "sparkle"})
    ctx = make_context(manager, settings, "dream")
    spec.call(params, {}, ctx)
    assert [e["name"] for e in ctx.environment["embeddings"]] == ["sparkle"]
    before = spec.identity(params, ctx)
    assert "embeddings" in before and "embeddings" not in spec.identity(
        spec.validate_params({**DREAM, "prompt": "x"}), ctx
    )
    first = dream(manager, settings, prompt="sparkle")
    _save(
        folder / "embeddings" / "sparkle.safetensors",
        {"emb_params": torch.ones(2, _width(Path(settings.tiny_models_dir) / "txt2img"))},
    )
    assert spec.identity(params, ctx) != before
    assert not np.array_equal(dream(manager, settings, prompt="sparkle"), first), "the changed file's vectors"


def test_sdxl_embeddings_fill_both_text_encoders(manager, settings, family_dirs: dict[str, Path]) -> None:
    model = str(family_dirs["sdxl"])
    plain = dream(manager, settings, prompt="a lighthouse", model=model)
    assert not np.array_equal(dream(manager, settings, prompt="a lighthouse, neon", model=model), plain)
    assert np.array_equal(dream(manager, settings, prompt="a lighthouse", model=model), plain)


def test_an_embedding_that_does_not_fit_fails_naming_both(
    manager, settings, family_dirs: dict[str, Path]
) -> None:
    plain = dream(manager, settings, prompt="a lighthouse")
    with pytest.raises(
        ModelUnavailable, match=r"embedding 'wide' was made for Stable Diffusion 1\.x but the model"
    ):
        dream(manager, settings, prompt="a lighthouse, wide")
    with pytest.raises(ModelUnavailable, match=r"embedding 'sparkle' .* do not fit"):
        dream(manager, settings, prompt="a lighthouse, sparkle", model=str(family_dirs["sdxl"]))
    assert np.array_equal(dream(manager, settings, prompt="a lighthouse"), plain), (
        "the model is left as it was"
    )


def test_the_api_lists_them(tiny_client, tiny_dir: Path) -> None:
    data_dir = tiny_client.app.state.opendream.workspace.settings.data_dir
    width = _width(tiny_dir / "txt2img")
    _save(
        Path(data_dir) / "models" / "embeddings" / "sparkle.safetensors",
        {"emb_params": torch.zeros(2, width)},
    )
    listed = tiny_client.get("/api/embeddings").json()
    assert [(x["name"], x["vectors"], x["title"]) for x in listed] == [("sparkle", 2, "unknown family")]
