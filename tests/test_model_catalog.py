"""``GET /api/models``: the models available without a download, with their family, from a
populated Hugging Face cache (its real on-disk layout) and the model folders."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from huggingface_hub import constants
from safetensors.torch import save_file

from opendream.engine.workspace import Workspace
from opendream.server.app import create_app
from opendream.settings import Settings
from tests.server_fixtures import BASE

SD1 = "model.diffusion_model.output_blocks.11.0.skip_connection.weight"
XL = "conditioner.embedders.1.model.transformer.resblocks.9.mlp.c_proj.bias"


def hub_repo(cache: Path, repo_id: str, index: dict | None, commit: str = "a" * 40) -> None:
    """A repo as ``hf download`` leaves it: blobs, a snapshot of links to them, refs/main."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    files = {"model_index.json": json.dumps(index)} if index is not None else {"config.json": "{}"}
    for name, text in files.items():
        blob = repo / "blobs" / f"{abs(hash(name)):x}"
        blob.write_text(text)
        (snapshot / name).symlink_to(Path("../../blobs") / blob.name)


@pytest.fixture
def catalog_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    cache = tmp_path / "hf"
    hub_repo(cache, "someone/sdxl-base", {"_class_name": "StableDiffusionXLPipeline"})
    hub_repo(cache, "someone/sd15", {"_class_name": "StableDiffusionPipeline"})
    hub_repo(cache, "someone/a-text-model", None)  # not a pipeline: not listed
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    mine = tmp_path / "mine"
    (mine / "flux-kontext").mkdir(parents=True)
    (mine / "flux-kontext" / "model_index.json").write_text(
        json.dumps({"_class_name": "FluxKontextPipeline"})
    )
    save_file({XL: torch.zeros(4)}, str(mine / "illustrious.safetensors"))
    save_file({SD1: torch.zeros(1, 1)}, str(mine / "dreamshaper.SafeTensors"))
    (mine / "notes.txt").write_text("not a model")
    settings = Settings(data_dir=tmp_path / "data", model_dirs=[mine], device="cpu")
    workspace = Workspace(settings)
    with TestClient(create_app(settings, workspace=workspace), base_url=BASE) as client:
        yield client
    workspace.close()


def test_the_local_models_are_listed_with_their_family(catalog_client: TestClient, tmp_path: Path) -> None:
    answer = catalog_client.get("/api/models")
    assert answer.status_code == 200, answer.text
    listed = {m["model"]: (m["kind"], m["family"], m["variant"], m["title"]) for m in answer.json()}
    mine = tmp_path / "mine"
    assert listed == {
        "someone/sd15": ("hub", "sd1", "normal", "Stable Diffusion 1.x"),
        "someone/sdxl-base": ("hub", "sdxl", "normal", "SDXL"),
        str(mine / "flux-kontext"): ("folder", "flux1", "kontext", "Flux.1 (kontext)"),
        str(mine / "illustrious.safetensors"): ("safetensors", "sdxl", "normal", "SDXL"),
        str(mine / "dreamshaper.SafeTensors"): ("safetensors", "sd1", "normal", "Stable Diffusion 1.x"),
    }
    sizes = {m["model"]: m["bytes"] for m in answer.json()}
    assert sizes[str(mine / "illustrious.safetensors")] == (mine / "illustrious.safetensors").stat().st_size
    assert all(size > 0 for size in sizes.values())


SD1_CROSS = "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight"
KOHYA_XL_CROSS = "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight"
FLUX_LORA = "transformer.single_transformer_blocks.0.attn.to_k.lora_A.weight"


def test_the_lora_files_of_the_model_folders_with_family_and_triggers(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    (mine / "Lora").mkdir(parents=True)
    save_file({SD1_CROSS: torch.zeros(4, 768)}, str(mine / "Lora" / "ink.safetensors"))
    tags = {"1_ink": {"ink wash": 30, "monochrome": 12}, "2_extra": {"ink wash": 5, "brush": 20}}
    save_file(
        {KOHYA_XL_CROSS: torch.zeros(4, 2048), "lora_unet_x.alpha": torch.tensor(4.0)},
        str(mine / "pony-style.safetensors"),
        metadata={"ss_tag_frequency": json.dumps(tags)},
    )
    save_file({FLUX_LORA: torch.zeros(4, 8)}, str(mine / "Lora" / "flux-detail.safetensors"))
    save_file({SD1: torch.zeros(1, 1)}, str(mine / "dreamshaper.safetensors"))  # a checkpoint
    (mine / "Lora" / "broken.safetensors").write_bytes(b"\x00\x01")
    settings = Settings(data_dir=tmp_path / "data", model_dirs=[mine], device="cpu")
    workspace = Workspace(settings)
    with TestClient(create_app(settings, workspace=workspace), base_url=BASE) as client:
        loras = {Path(x["model"]).name: x for x in client.get("/api/loras").json()}
        models = {Path(x["model"]).name for x in client.get("/api/models").json()}
    workspace.close()
    assert set(loras) == {"ink.safetensors", "pony-style.safetensors", "flux-detail.safetensors"}
    assert (loras["ink.safetensors"]["family"], loras["ink.safetensors"]["title"]) == (
        "sd1",
        "Stable Diffusion 1.x",
    )
    assert loras["pony-style.safetensors"]["family"] == "sdxl"
    assert loras["pony-style.safetensors"]["triggers"] == ["ink wash", "brush", "monochrome"]
    assert loras["flux-detail.safetensors"]["family"] == "flux1"
    assert "dreamshaper.safetensors" in models and "pony-style.safetensors" not in models, (
        "LoRAs are not models"
    )
