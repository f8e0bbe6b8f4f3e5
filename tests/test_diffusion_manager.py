"""The model manager on tiny models: load once, share, evict, refuse, explain."""

from __future__ import annotations

import gc
import shutil
import threading
import weakref
from pathlib import Path

import pytest
from PIL import Image

from opendream import ImageLayer, MaskLayer
from opendream.core.errors import ModelUnavailable
from opendream.diffusion.manager import ModelManager
from opendream.diffusion.model_sources import identity
from tests.diffusion_fixtures import run_op

#: A name only a UNet checkpoint has (LDM layout): the file passes the family probe to the loader.
UNET_KEY = "model.diffusion_model.input_blocks.0.0.weight"


@pytest.fixture
def manager(tiny_settings, pinned_threads) -> ModelManager:
    return ModelManager(tiny_settings, device="cpu", dtype="float32")


def test_loaded_once_for_several_ops_and_components_shared(manager, tiny_settings, tiny_dir) -> None:
    small = {"prompt": "x", "width": 64, "height": 64, "steps": 2}
    (image,) = run_op("dream", small, {}, manager, tiny_settings)
    run_op("dream", {**small, "seed": 3}, {}, manager, tiny_settings)
    run_op(
        "img2img",
        {"prompt": "x", "steps": 2},
        {"image_layer": ImageLayer(image.image)},
        manager,
        tiny_settings,
    )
    # inpaint on the dream model itself (a 4-channel UNet): same base, no new load
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (8, 8, 24, 24))
    layers = {"mask_layer": MaskLayer(mask), "image_layer": ImageLayer(image.image)}
    run_op(
        "mask_and_inpaint",
        {"prompt": "x", "steps": 2, "model": str(tiny_dir / "txt2img")},
        layers,
        manager,
        tiny_settings,
    )
    assert manager.stats["loads"] == 2, "the model and the previews' tiny autoencoder"
    assert manager.stats["derived"] == 2  # img2img and inpaint made with from_pipe
    txt2img = manager.get("txt2img")
    assert manager.get("img2img").unet is txt2img.unet
    assert manager.get("inpaint", str(tiny_dir / "txt2img")).vae is txt2img.vae
    (entry, _autoencoder) = sorted(manager.loaded(), key=lambda e: -len(e["pipelines"]))
    assert len(entry["pipelines"]) == 3
    # shared modules are counted once
    from opendream.diffusion.model_cache import module_bytes

    assert entry["bytes"] == module_bytes(list(txt2img.components.values()))
    # the inpainting default is another base (a 9-channel UNet)
    run_op("mask_and_inpaint", {"prompt": "x", "steps": 2}, layers, manager, tiny_settings)
    assert manager.stats["loads"] == 3


def test_concurrent_requests_load_once(manager) -> None:
    results: list = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        results.append(manager.get("txt2img"))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert manager.stats["loads"] == 1
    assert len({id(p) for p in results}) == 1


def test_eviction_under_a_small_budget_frees_memory(tiny_settings, tiny_dir, pinned_threads) -> None:
    one_model = 7 * 1024 * 1024  # each tiny pipeline is ~5.2 MB of float32 weights
    manager = ModelManager(tiny_settings, device="cpu", dtype="float32", budget_bytes=one_model)
    unet = weakref.ref(manager.get("txt2img").unet)
    manager.get("img2img")  # same base: no eviction
    assert manager.stats["evictions"] == 0
    manager.get("inpaint", role="inpaint")  # another base: the first must go
    assert manager.stats["evictions"] == 1
    assert [e["source"] for e in manager.loaded()] == [str(tiny_dir / "inpaint")]
    assert manager.used_bytes <= one_model
    gc.collect()
    assert unet() is None, "evicted weights are still referenced"
    manager.get("txt2img")
    assert manager.stats["loads"] == 3
    manager.clear()
    assert manager.loaded() == [] and manager.used_bytes == 0


def test_lru_order(tiny_settings, tiny_dir, pinned_threads) -> None:
    manager = ModelManager(tiny_settings, device="cpu", dtype="float32", budget_bytes=14 * 1024 * 1024)
    manager.get("txt2img")
    manager.get("inpaint", role="inpaint")
    manager.get("txt2img")  # touch: inpaint is now least recently used
    manager.get("pix2pix", role="pix2pix")
    assert sorted(e["source"] for e in manager.loaded()) == sorted(
        [str(tiny_dir / "txt2img"), str(tiny_dir / "pix2pix")]
    )


def test_unknown_hub_id_fails_with_a_helpful_message(manager) -> None:
    with pytest.raises(ModelUnavailable) as info:
        manager.get("txt2img", "opendream-tests/does-not-exist")
    message = str(info.value)
    assert "opendream-tests/does-not-exist" in message
    assert "huggingface-cli download opendream-tests/does-not-exist" in message
    assert "OPENDREAM_DREAM_MODEL" in message and ".safetensors" in message


def test_op_with_missing_folder_fails_naming_it(manager, tiny_settings, tmp_path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelUnavailable, match="no-such-model"):
        run_op(
            "dream",
            {"prompt": "x", "width": 64, "height": 64, "model": str(missing)},
            {},
            manager,
            tiny_settings,
        )


def test_wrong_kind_of_model_is_explained(manager, tiny_dir) -> None:
    with pytest.raises(ModelUnavailable, match="9 input channels"):
        manager.get("txt2img", str(tiny_dir / "inpaint"))
    with pytest.raises(ModelUnavailable, match="not a pipeline"):
        manager.get("txt2img", str(tiny_dir / "controlnet"))


def _pickle_checkpoint(path: Path) -> Path:
    import torch

    torch.save({"state_dict": {"w": torch.zeros(2)}}, path)
    return path


@pytest.mark.parametrize("name", ["model.ckpt", "model.bin", "model.safetensors", "model.SafeTensors"])
def test_pickle_checkpoints_are_refused(manager, tmp_path, name) -> None:
    path = _pickle_checkpoint(tmp_path / name)
    with pytest.raises(ModelUnavailable, match=r"pickle.*OPENDREAM_ALLOW_PICKLE_CHECKPOINTS"):
        manager.get("txt2img", str(path))


def test_uppercase_safetensors_is_read_as_safetensors(manager, tmp_path, monkeypatch) -> None:
    """diffusers picks its reader by the case-sensitive extension; we hand it a `.safetensors` path."""
    import diffusers
    import safetensors.torch
    import torch

    path = tmp_path / "Model.SafeTensors"
    safetensors.torch.save_file({UNET_KEY: torch.zeros(2)}, str(path))
    seen: list[str] = []

    def fake_from_single_file(cls, link, **kwargs):
        seen.append(link)
        assert safetensors.torch.load_file(link)["w"].shape == (2,)
        raise ValueError("not a Stable Diffusion checkpoint")

    def no_pickle(*args, **kwargs):
        raise AssertionError("torch.load must not be used for a safetensors file")

    monkeypatch.setattr(
        diffusers.StableDiffusionPipeline, "from_single_file", classmethod(fake_from_single_file)
    )
    monkeypatch.setattr(torch, "load", no_pickle)
    with pytest.raises(ModelUnavailable, match=r"Model\.SafeTensors"):
        manager.get("txt2img", str(path))
    assert len(seen) == 1 and seen[0].endswith(".safetensors")


def test_a_real_safetensors_that_is_not_a_model_is_explained(manager, tmp_path) -> None:
    import safetensors.torch
    import torch

    path = tmp_path / "weights.SAFETENSORS"
    safetensors.torch.save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(
        ModelUnavailable,
        match=r"holds no model of a family known here: its 1 tensor names match none of the layouts probed "
        r"\(Stable Diffusion 1\.x, .*SDXL, .*Flux\.1.*\)\. Is it a LoRA",
    ):
        manager.get("txt2img", str(path))
    assert manager.stats["loads"] == 0


def test_identity_of_a_folder_changes_with_its_weights(tiny_dir, tmp_path) -> None:
    copy = Path(shutil.copytree(tiny_dir / "txt2img", tmp_path / "copy"))
    (copy / ".opendream-tiny.json").unlink()
    first = identity(str(copy))
    assert first == identity(str(copy))
    assert first["source"] == str(copy)
    weights = next((copy / "unet").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes() + b" ")
    assert identity(str(copy)) != first
    assert identity(str(tiny_dir / "txt2img"))["source"] == "tiny:txt2img"
    assert identity("owner/not-cached") == {"source": "owner/not-cached", "revision": "main"}


def test_a_tiny_marker_vouches_only_for_unmodified_files(tiny_dir, tmp_path) -> None:
    tiny = identity(str(tiny_dir / "txt2img"))
    copy = Path(shutil.copytree(tiny_dir / "txt2img", tmp_path / "copy"))  # keeps mtimes
    assert identity(str(copy)) == tiny
    weights = next((copy / "vae").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes())  # same bytes and size, but written after the marker
    assert identity(str(copy))["source"] == str(copy), "the copy now has its own fingerprint"


def test_status_says_when_weights_are_really_loaded(manager, tiny_dir) -> None:
    said: list[str] = []
    base, controlnet = str(tiny_dir / "txt2img"), str(tiny_dir / "controlnet")
    manager.get("txt2img", base, status=said.append)
    manager.get("txt2img", base, status=said.append)  # reused
    manager.get("img2img", base, status=said.append)  # derived from the loaded weights
    manager.get("controlnet", base, controlnet=controlnet, status=said.append)
    manager.get("controlnet", base, controlnet=controlnet, status=said.append)
    assert said == [f"loading model {base}", f"loading ControlNet {controlnet}"]


def test_float16_stays_float16_in_every_pipeline_sharing_the_weights(tiny_settings, tiny_dir) -> None:
    """What CUDA gets. Deriving a pipeline must not cast the shared modules back to float32
    (diffusers' from_pipe does, in place, unless told the dtype). Loading and deriving work on
    the CPU in float16; running would not, and is not done here."""
    import torch

    manager = ModelManager(tiny_settings, device="cpu", dtype="float16")
    base, controlnet = str(tiny_dir / "txt2img"), str(tiny_dir / "controlnet")
    txt2img = manager.get("txt2img", base)
    img2img = manager.get("img2img", base)
    with_control = manager.get("controlnet", base, controlnet=controlnet)
    for pipe in (txt2img, img2img, with_control):
        assert pipe.unet is txt2img.unet, "the weights are shared"
        dtypes = {name: module.dtype for name, module in pipe.components.items() if hasattr(module, "dtype")}
        assert set(dtypes.values()) == {torch.float16}, dtypes
    assert with_control.controlnet.dtype == torch.float16


def test_controlnet_and_pix2pix_pipelines_run(manager, tiny_dir) -> None:
    import torch

    image = Image.new("RGB", (64, 64), (120, 30, 200))
    pipe = manager.get("controlnet", controlnet=str(tiny_dir / "controlnet"))
    assert pipe.unet is manager.get("txt2img").unet
    out = pipe("x", image=image, num_inference_steps=2, generator=torch.Generator().manual_seed(0)).images[0]
    assert out.size == (64, 64)
    pix = manager.get("pix2pix", role="pix2pix")
    out = pix("x", image=image, num_inference_steps=2, generator=torch.Generator().manual_seed(0)).images[0]
    assert out.size == (64, 64)
    assert manager.stats["loads"] == 3  # txt2img, its controlnet, pix2pix


def test_loading_prints_no_library_progress_bars(tiny_settings, tiny_dir, capfd) -> None:
    """Progress goes through job events; the libraries' tqdm bars would clutter the server log."""
    import diffusers.utils.logging
    import huggingface_hub.utils
    import transformers.utils.logging

    # an earlier load in this process already turned them off: turn them on, so this can fail
    diffusers.utils.logging.enable_progress_bar()
    transformers.utils.logging.enable_progress_bar()
    huggingface_hub.utils.enable_progress_bars()
    manager = ModelManager(tiny_settings, device="cpu", dtype="float32")
    capfd.readouterr()
    manager.get("txt2img", str(tiny_dir / "txt2img"))
    manager.get("controlnet", controlnet=str(tiny_dir / "controlnet"))
    err = capfd.readouterr().err
    assert "Loading" not in err and "it/s" not in err, err[-500:]


def test_checkpoint_links_live_in_a_private_folder_of_the_data_dir(tmp_path, monkeypatch) -> None:
    """The links once went into a fixed folder of the shared temp dir whose owner nobody checked:
    another account could create it first and swap the link for its own weights."""
    import os
    import tempfile

    import diffusers
    import safetensors.torch
    import torch

    from opendream.settings import Settings

    shared_tmp = tmp_path / "shared-tmp"
    shared_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(shared_tmp))
    settings = Settings(data_dir=tmp_path / "data", device="cpu")
    manager = ModelManager(settings, device="cpu", dtype="float32")
    path = tmp_path / "Model.SafeTensors"
    safetensors.torch.save_file({UNET_KEY: torch.zeros(2)}, str(path))
    seen: list[str] = []

    def fake_from_single_file(cls, link, **kwargs):
        seen.append(link)
        raise ValueError("not a Stable Diffusion checkpoint")

    monkeypatch.setattr(
        diffusers.StableDiffusionPipeline, "from_single_file", classmethod(fake_from_single_file)
    )
    with pytest.raises(ModelUnavailable):
        manager.get("txt2img", str(path))
    links = tmp_path / "data" / "checkpoint-links"
    assert Path(seen[0]).parent == links and os.readlink(seen[0]) == str(path)
    assert links.stat().st_mode & 0o777 == 0o700
    assert list(shared_tmp.iterdir()) == [], "nothing goes to the shared temp dir"

    # A folder someone else made (or opened to others) is refused, not used.
    links.chmod(0o777)
    with pytest.raises(ModelUnavailable, match="not a private folder"):
        manager.get("txt2img", str(path))
    if os.getuid() == 0:
        links.chmod(0o700)
        os.chown(links, 12345, 12345)
        with pytest.raises(ModelUnavailable, match="not a private folder"):
            manager.get("txt2img", str(path))
