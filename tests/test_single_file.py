"""Single-file (LDM layout) checkpoints written from the tiny pipelines and loaded back with
diffusers' real ``from_single_file`` conversion code, directly and through the model manager."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.fake_services import FakeService, HubRepo, hf_hub, serve, use_hub
from tests.ldm_checkpoint import ldm_state_dict, write_ldm_checkpoint

PIPELINES = {"txt2img": "StableDiffusionPipeline", "inpaint": "StableDiffusionInpaintPipeline"}
COMPONENTS = ("unet", "vae", "text_encoder")


@pytest.fixture(scope="module")
def checkpoints(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("single-file")
    return {kind: write_ldm_checkpoint(tiny_dir / kind, folder / f"{kind}.safetensors") for kind in PIPELINES}


def _from_folder(kind: str, folder: Path) -> Any:
    import diffusers

    return getattr(diffusers, PIPELINES[kind]).from_pretrained(folder, safety_checker=None)


def _from_single_file(kind: str, file: Path, config: Path) -> Any:
    import diffusers

    cls = getattr(diffusers, PIPELINES[kind])
    return cls.from_single_file(str(file), config=str(config), local_files_only=True, safety_checker=None)


def _assert_same_weights(expected: Any, actual: Any) -> None:
    import torch

    for name in COMPONENTS:
        want, got = getattr(expected, name).state_dict(), getattr(actual, name).state_dict()
        assert got.keys() == want.keys(), name
        different = [key for key in want if not torch.equal(want[key], got[key])]
        assert not different, f"{name}: {different[:5]}"


def _generate(pipe: Any, kind: str) -> Any:
    import torch

    extra: dict[str, Any] = {}
    if kind == "inpaint":
        mask = Image.new("L", (64, 64), 0)
        mask.paste(255, (16, 16, 48, 48))
        extra = {"image": Image.new("RGB", (64, 64), (120, 30, 200)), "mask_image": mask}
    pipe.set_progress_bar_config(disable=True)
    generator = torch.Generator().manual_seed(7)
    return pipe(
        "a tiny test",
        num_inference_steps=2,
        height=64,
        width=64,
        generator=generator,
        output_type="np",
        **extra,
    ).images


def _config_only_copy(folder: Path, target: Path) -> Path:
    """The pipeline's configs, tokenizer and model_index.json without any weights."""
    return Path(shutil.copytree(folder, target, ignore=shutil.ignore_patterns("*.safetensors", "*.bin")))


@pytest.mark.parametrize("kind", list(PIPELINES))
def test_round_trip_gives_the_same_weights_and_pixels(kind, tiny_dir, checkpoints, pinned_threads) -> None:
    import numpy as np

    folder_pipe = _from_folder(kind, tiny_dir / kind)
    file_pipe = _from_single_file(kind, checkpoints[kind], tiny_dir / kind)
    assert type(file_pipe) is type(folder_pipe)
    assert file_pipe.unet.config.in_channels == {"txt2img": 4, "inpaint": 9}[kind]
    _assert_same_weights(folder_pipe, file_pipe)
    expected, actual = _generate(folder_pipe, kind), _generate(file_pipe, kind)
    assert expected.shape == (1, 64, 64, 3)
    np.testing.assert_array_equal(actual, expected)


def test_the_weights_come_from_the_file_not_the_config_folder(tiny_dir, checkpoints, tmp_path) -> None:
    configs = _config_only_copy(tiny_dir / "txt2img", tmp_path / "configs")
    assert not list(configs.rglob("*.safetensors"))
    _assert_same_weights(
        _from_folder("txt2img", tiny_dir / "txt2img"),
        _from_single_file("txt2img", checkpoints["txt2img"], configs),
    )


def test_the_file_has_the_ldm_layout_diffusers_detects(checkpoints) -> None:
    """Without ``config=``, ``from_single_file`` picks the Hub repo whose configs it fetches from
    the checkpoint's keys and shapes (9 UNet input channels: the inpainting model)."""
    from diffusers.loaders.single_file_utils import fetch_diffusers_config, infer_diffusers_model_type
    from safetensors.torch import load_file

    state = load_file(str(checkpoints["txt2img"]))
    assert {key.split(".")[0] for key in state} == {"model", "first_stage_model", "cond_stage_model"}
    q = state["first_stage_model.decoder.mid.attn_1.q.weight"].shape
    assert q[2:] == (1, 1) and q[0] == q[1]  # a 1x1 conv, as LDM stores linear attention weights
    proj_in = [
        v.shape
        for k, v in state.items()
        if k.startswith("model.diffusion_model.") and k.endswith("proj_in.weight")
    ]
    assert proj_in and all(shape[2:] == (1, 1) for shape in proj_in)
    assert "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight" in state
    expected = {
        "txt2img": ("v1", "stable-diffusion-v1-5/stable-diffusion-v1-5"),
        "inpaint": ("inpainting", "stable-diffusion-v1-5/stable-diffusion-inpainting"),
    }
    for kind, (model_type, repo) in expected.items():
        state = load_file(str(checkpoints[kind]))
        assert infer_diffusers_model_type(state) == model_type
        assert fetch_diffusers_config(state) == {"pretrained_model_name_or_path": repo}


def test_sd15_full_size_names_match_diffusers_forward_converter() -> None:
    """SD 1.5's shapes (built on the meta device: no memory, no weights): the 686 + 248 + 196
    tensors of ``v1-5-pruned-emaonly``, and diffusers' converter maps them back exactly."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.loaders.single_file_utils import (
        convert_ldm_clip_checkpoint,
        convert_ldm_unet_checkpoint,
        convert_ldm_vae_checkpoint,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    with torch.device("meta"):
        unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768)
        vae = AutoencoderKL(
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(128, 256, 512, 512),
            layers_per_block=2,
        )
        text = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12))
    diffusers_state = {"unet": unet.state_dict(), "vae": vae.state_dict(), "text_encoder": text.state_dict()}
    state = ldm_state_dict(*diffusers_state.values(), dict(unet.config), dict(vae.config))
    assert len(state) == 686 + 248 + 196
    assert state["model.diffusion_model.output_blocks.11.0.skip_connection.weight"].shape == (320, 640, 1, 1)
    assert state["model.diffusion_model.output_blocks.8.2.conv.weight"].shape == (640, 640, 3, 3)
    assert state["first_stage_model.decoder.up.3.upsample.conv.weight"].shape == (512, 512, 3, 3)
    back = {
        "unet": convert_ldm_unet_checkpoint(state, dict(unet.config)),
        "vae": convert_ldm_vae_checkpoint(state, dict(vae.config)),
        "text_encoder": {
            k.removeprefix("text_model."): v for k, v in convert_ldm_clip_checkpoint(state).items()
        },
    }
    for name, original in diffusers_state.items():
        assert back[name].keys() == original.keys(), name
        assert all(back[name][key].shape == tensor.shape for key, tensor in original.items()), name


def test_the_manager_loads_a_single_file_with_its_base_configs_from_the_hub(
    tiny_settings, tiny_dir, checkpoints, pinned_threads, tmp_path, monkeypatch
) -> None:
    """``ModelManager`` passes no ``config=``: diffusers fetches the configs (no weights) of the
    repo it infers, here SD 1.5's, served with the tiny configs by a loopback hub, into the
    Hugging Face cache; later loads work offline from that cache."""
    import numpy as np
    from huggingface_hub import constants

    from opendream.diffusion.manager import ModelManager

    repos = {"stable-diffusion-v1-5/stable-diffusion-v1-5": HubRepo(tiny_dir / "txt2img")}
    with serve(hf_hub(FakeService(), repos)) as hub:
        use_hub(monkeypatch, hub.url, tmp_path / "hf-cache")
        manager = ModelManager(tiny_settings, device="cpu", dtype="float32")
        pipe = manager.get("txt2img", str(checkpoints["txt2img"]))
    fetched = [r.path.rsplit("/", 1)[-1] for r in hub.requests if r.method == "GET" and "/resolve/" in r.path]
    assert "model_index.json" in fetched and "tokenizer_config.json" in fetched
    assert not [name for name in fetched if name.endswith(".safetensors")], "configs only"
    folder_pipe = manager.get("txt2img", str(tiny_dir / "txt2img"))
    assert pipe is not folder_pipe and manager.stats["loads"] == 2
    _assert_same_weights(folder_pipe, pipe)
    np.testing.assert_array_equal(_generate(pipe, "txt2img"), _generate(folder_pipe, "txt2img"))

    manager.clear()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # the hub is gone too
    _assert_same_weights(folder_pipe, manager.get("txt2img", str(checkpoints["txt2img"])))


def test_a_single_file_without_its_base_configs_is_explained(
    tiny_settings, checkpoints, tmp_path, monkeypatch
) -> None:
    from huggingface_hub import constants

    from opendream.core.errors import ModelUnavailable
    from opendream.diffusion.manager import ModelManager

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    manager = ModelManager(tiny_settings, device="cpu", dtype="float32")
    with pytest.raises(ModelUnavailable) as info:
        manager.get("txt2img", str(checkpoints["txt2img"]))
    message = str(info.value)
    assert str(checkpoints["txt2img"]) in message
    assert (
        "the hub could not be reached" in message and "stable-diffusion-v1-5/stable-diffusion-v1-5" in message
    )
    assert manager.loaded() == []


def test_not_a_pipeline_folder(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_ldm_checkpoint(tmp_path / "nowhere", tmp_path / "out.safetensors")
    (tmp_path / "unet").mkdir()
    with pytest.raises(ValueError, match=r"not a diffusers pipeline folder .*model_index\.json"):
        write_ldm_checkpoint(tmp_path, tmp_path / "out.safetensors")


@pytest.mark.parametrize(
    ("remove", "message"),
    [
        ("vae", r"has no vae component \(.*vae/config.json is missing\)"),
        ("text_encoder/model.safetensors", "no safetensors weights for its text_encoder .*model.safetensors"),
    ],
)
def test_a_missing_component_is_named(tiny_dir, tmp_path, remove, message) -> None:
    folder = Path(shutil.copytree(tiny_dir / "txt2img", tmp_path / "pipe"))
    target = folder / remove
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink()
    out = tmp_path / "out" / "model.safetensors"
    with pytest.raises(FileNotFoundError, match=message):
        write_ldm_checkpoint(folder, out)
    assert not out.exists()


@pytest.mark.parametrize(
    ("component", "change", "message"),
    [
        (
            "unet",
            {"layers_per_block": 2},
            r"the unet does not fit .*the weights lack: down_blocks\.0\.resnets\.1",
        ),
        (
            "vae",
            {"mid_block_add_attention": False},
            r"the vae does not fit .*no LDM name: decoder\.mid_block\.att",
        ),
        ("text_encoder", {"architectures": ["CLIPTextModelWithProjection"]}, "holds a CLIPTextModel"),
    ],
)
def test_weights_that_do_not_fit_are_refused_and_nothing_is_written(
    tiny_dir, tmp_path, component, change, message
) -> None:
    folder = Path(shutil.copytree(tiny_dir / "txt2img", tmp_path / "pipe"))
    config_file = folder / component / "config.json"
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()), **change}))
    with pytest.raises(ValueError, match=message):
        write_ldm_checkpoint(folder, tmp_path / "model.safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_an_existing_file_is_replaced(tiny_dir, checkpoints, tmp_path) -> None:
    out = tmp_path / "model.safetensors"
    out.write_bytes(b"old")
    assert write_ldm_checkpoint(tiny_dir / "txt2img", out) == out
    assert out.read_bytes() == checkpoints["txt2img"].read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]
