"""The CPU fast path (issue 18): tiny models' UNets, text encoders and VAEs through OpenVINO's
real conversion. Outputs stay close to torch's, a replay on the same backend is exact and one
on torch says the backend changed, the converted models are reused by another process (which
reads no torch UNet weights) and rebuilt when their cache is corrupt, a part that fails to
convert stays on torch, and runs the converted models cannot do (LoRAs) go to torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from opendream.diffusion import openvino_backend
from opendream.diffusion.manager import ModelManager
from opendream.diffusion.tiny_loras import build_tiny_lora
from opendream.settings import Settings
from tests.diffusion_fixtures import make_context, run_op

pytest.importorskip("openvino")
DREAM = {"prompt": "a lighthouse", "width": 64, "height": 64, "steps": 4, "seed": 5}
#: OpenVINO computes in bfloat16 on CPUs that have it, from float16 weights, and the tiny
#: random models amplify its rounding over 4 steps: measured (UNet, text encoder and VAE all on
#: OpenVINO) max 25 levels of 255 on a few pixels, mean 2.4 (under 2 with float32 weights).
MAX_LEVELS, MEAN_LEVELS = 32, 3.0


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("openvino-data")


def make_settings(tiny_dir: Path, data_dir: Path, backend: str) -> Settings:
    return Settings(
        tiny_models=True, tiny_models_dir=tiny_dir, data_dir=data_dir, device="cpu", backend=backend
    )


@pytest.fixture(scope="module")
def fast(tiny_dir: Path, data_dir: Path, pinned_threads: int) -> tuple[ModelManager, Settings]:
    settings = make_settings(tiny_dir, data_dir, "openvino")
    return ModelManager(settings, device="cpu", dtype="float32"), settings


@pytest.fixture(scope="module")
def slow(tiny_dir: Path, data_dir: Path, pinned_threads: int) -> tuple[ModelManager, Settings]:
    settings = make_settings(tiny_dir, data_dir, "torch")
    return ModelManager(settings, device="cpu", dtype="float32"), settings


def dream(pair: tuple[ModelManager, Settings], **params: Any) -> np.ndarray:
    manager, settings = pair
    (layer,) = run_op("dream", {**DREAM, **params}, {}, manager, settings)
    return np.asarray(layer.image).astype(int)


def test_the_backend_setting() -> None:
    assert openvino_backend.resolve_backend("auto", "cpu") == "openvino"
    assert openvino_backend.resolve_backend("auto", "cuda") == "torch"
    assert openvino_backend.resolve_backend("openvino", "cuda") == "torch"
    assert openvino_backend.resolve_backend("torch", "cpu") == "torch"


def test_close_to_torch_and_exact_on_replay(fast, slow) -> None:
    on_openvino = dream(fast)
    on_torch = dream(slow)
    difference = np.abs(on_openvino - on_torch)
    measured = f"max {difference.max()}, mean {difference.mean():.3f}"
    assert 0 < difference.max() <= MAX_LEVELS and difference.mean() <= MEAN_LEVELS, measured
    assert np.array_equal(dream(fast), on_openvino), "a replay on the same backend is exact"
    other_size = dream(fast, width=96, height=64)  # dynamic shapes: no second conversion
    assert other_size.shape == (64, 96, 3)


def test_img2img_encodes_on_openvino_too(fast, slow) -> None:
    from opendream import ImageLayer
    from tests.helpers import gradient

    params = {"prompt": "a lighthouse", "steps": 4, "strength": 0.5, "seed": 1}
    layers = {"image_layer": ImageLayer(gradient(64))}
    images = []
    for pair in (fast, slow):
        (layer,) = run_op("img2img", params, layers, *pair)
        images.append(np.asarray(layer.image).astype(int))
        if pair is fast:
            used = openvino_backend.parts_used()
            assert (used["vae_encoder"], used["unet"], used["vae_decoder"]) == ("openvino",) * 3
    difference = np.abs(images[0] - images[1])
    assert difference.max() <= MAX_LEVELS and difference.mean() <= MEAN_LEVELS


def test_a_weighted_prompt_encodes_on_openvino_with_its_mask(fast, slow) -> None:
    """compel's down-weighting masks a fragment out of the attention: the converted text
    encoder takes the mask, honours it as torch does, and a weighted dream stays on OpenVINO."""
    import torch

    encoders = [pair[0].get("txt2img").text_encoder for pair in (fast, slow)]
    tokenizer = slow[0].get("txt2img").tokenizer
    ids = tokenizer("a lighthouse in the fog", padding="max_length", max_length=77, return_tensors="pt")
    mask = torch.ones_like(ids.input_ids)
    mask[0, 3:5] = 0
    openvino_backend.forget_backend()
    with torch.no_grad():
        masked, on_torch = (encoder(ids.input_ids, mask)[0] for encoder in encoders)
        unmasked = encoders[1](ids.input_ids)[0]
    assert openvino_backend.parts_used() == {"text_encoder": "openvino"}
    # Measured: max 0.0014 apart (float16 weights); the mask itself moves them by 1.2.
    assert (masked - on_torch).abs().max() < 0.02
    assert (unmasked - on_torch).abs().max() > 0.5, "the mask changes the states"

    weighted = {"prompt": "a (lighthouse:1.3), [fog]", "negative_prompt": "(blurry:0.5)"}
    on_openvino = dream(fast, **weighted)
    assert openvino_backend.parts_used()["text_encoder"] == "openvino"
    difference = np.abs(on_openvino - dream(slow, **weighted))
    assert difference.max() <= MAX_LEVELS and difference.mean() <= MEAN_LEVELS
    assert not np.array_equal(on_openvino, dream(fast)), "the weights change the picture"


@pytest.mark.parametrize("family", ["sd1", "sdxl"])
def test_an_lcm_distilled_unet_takes_its_guidance_embedding_on_openvino(
    fast, slow, family: str, tiny_dir: Path, family_dirs: dict[str, Path], tmp_path: Path
) -> None:
    """An LCM-distilled UNet (``time_cond_proj_dim``: LCM Dreamshaper, LCM-SDXL, the few-step
    models CPU users run) is given the guidance scale as an embedding each step: it is converted
    with it as an input, so its steps run on OpenVINO and its torch weights stay released."""
    import torch
    from diffusers import UNet2DConditionModel

    base = tiny_dir / "txt2img" if family == "sd1" else family_dirs[family]
    folder = Path(shutil.copytree(base, tmp_path / "lcm"))
    config = UNet2DConditionModel.load_config(folder / "unet")
    torch.manual_seed(0)
    UNet2DConditionModel.from_config({**config, "time_cond_proj_dim": 32}).save_pretrained(folder / "unet")
    lcm = {"model": str(folder), "scheduler": "lcm", "guidance_scale": 6.0}
    on_openvino = dream(fast, **lcm)
    assert openvino_backend.parts_used()["unet"] == "openvino"
    assert fast[0].get("txt2img", str(folder)).unet.conv_in.weight.numel() == 0, "not read again"
    difference = np.abs(on_openvino - dream(slow, **lcm))
    assert difference.max() <= MAX_LEVELS and difference.mean() <= MEAN_LEVELS
    assert not np.array_equal(on_openvino, dream(fast, **lcm | {"guidance_scale": 2.0})), "it is used"


def test_controlnet_reads_the_released_unet_weights_again(fast, slow, tiny_dir: Path) -> None:
    from PIL import Image

    from opendream import ImageLayer

    fast[0].get("txt2img")
    assert fast[0].get("txt2img").unet.conv_in.weight.numel() == 0, "released once converted"
    params = {
        "prompt": "a",
        "steps": 2,
        "seed": 3,
        "image_is_edge_map": True,
        "controlnet_model": str(tiny_dir / "controlnet"),
    }
    edges = {"image": ImageLayer(Image.new("RGB", (64, 64)))}
    images = []
    for pair in (fast, slow):
        (layer,) = run_op("controlnet_canny", params, edges, *pair)
        images.append(np.asarray(layer.image).astype(int))
        if pair is fast:
            assert openvino_backend.parts_used()["unet"] == "torch", (
                "its residuals are not the converted model's"
            )
    difference = np.abs(images[0] - images[1])
    assert difference.max() <= MAX_LEVELS and difference.mean() <= MEAN_LEVELS


def _resident_mb(folder: Path) -> float:
    """This process's resident pages of files under ``folder``, in MB."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5:  # a mapping's first line
            inside = len(fields) == 6 and fields[5].startswith(str(folder.resolve()))
        elif inside and fields[0] == "Rss:":
            total += int(fields[1])
    return total / 1024


@pytest.mark.skipif(sys.platform != "linux", reason="pages are handed back on Linux only")
def test_converted_parts_give_back_their_torch_weights_and_file_pages(
    tiny_dir: Path, data_dir: Path, tmp_path: Path, pinned_threads: int
) -> None:
    """Once converted, a part's torch weights are released (but for what pipelines call
    themselves) and its model files' pages unmapped after a first call; an embedding's tokens
    read the text encoder's weights again, and run on torch."""
    import torch
    from safetensors.torch import save_file

    width = json.loads((tiny_dir / "txt2img" / "text_encoder" / "config.json").read_text())["hidden_size"]
    models = tmp_path / "models"
    (models / "embeddings").mkdir(parents=True)
    vectors = torch.randn(2, width, generator=torch.Generator().manual_seed(0)) * 3
    save_file({"emb_params": vectors}, str(models / "embeddings" / "sparkle.safetensors"))
    pairs = {}
    for backend in ("openvino", "torch"):
        settings = make_settings(tiny_dir, data_dir, backend).model_copy(update={"model_dirs": [models]})
        pairs[backend] = (ModelManager(settings, device="cpu", dtype="float32"), settings)
    manager = pairs["openvino"][0]
    plain = dream(pairs["openvino"])
    pipe = manager.get("txt2img")
    assert pipe.text_encoder.get_input_embeddings().weight.numel() == 0, "released"
    norm = getattr(pipe.text_encoder, "text_model", pipe.text_encoder).final_layer_norm
    assert norm.weight.numel() > 0, "kept: clip skip calls it"
    assert pipe.vae.decoder.conv_in.weight.numel() == pipe.vae.encoder.conv_in.weight.numel() == 0
    assert pipe.vae.post_quant_conv.weight.numel() > 0, "not a converted part's"
    # Measured: 2.7 MB resident without the hand-back, 0.08 MB with (pages of the VAE's
    # encoder, compiled but not called yet).
    assert _resident_mb(manager.openvino_cache) < 0.5, "the converted models' file pages handed back"

    with_embedding = dream(pairs["openvino"], prompt="a lighthouse, sparkle")
    assert openvino_backend.parts_used()["unet"] == "openvino"
    assert pipe.text_encoder.get_input_embeddings().weight.numel() > 0, "its tokens are the torch weights'"
    assert pipe.unet.conv_in.weight.numel() == 0, "only the text encoders are read again"
    assert not np.array_equal(with_embedding, plain)
    difference = np.abs(with_embedding - dream(pairs["torch"], prompt="a lighthouse, sparkle"))
    assert difference.max() <= MAX_LEVELS and difference.mean() <= MEAN_LEVELS


class Recording:
    """A compiled model whose buffer releases are recorded in ``freed`` (and done)."""

    def __init__(self, name: str, compiled: Any, freed: list[str]) -> None:
        self.name, self.compiled, self.freed = name, compiled, freed

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.compiled, attribute)

    def release_memory(self) -> None:
        self.freed.append(self.name)
        self.compiled.release_memory()


def test_each_part_frees_the_buffers_of_the_one_before(fast) -> None:
    """A pipeline's parts run in turn: a part's call frees the intermediate buffers of the one
    run before (allocated again by its next call); a preview's decode between two steps frees
    none, and a part running meanwhile is left alone (OpenVINO would refuse)."""
    dream(fast)
    parts = {part.part.name: part for part in openvino_backend.converted(fast[0].get("txt2img"))}
    freed: list[str] = []
    for part in parts.values():
        part.compiled = Recording(part.part.name, part.compiled, freed)
    try:
        first = dream(fast, steps=10)  # previews every step
        assert freed == ["vae_decoder", "text_encoder", "unet"], "each freed once, in turn"
        assert np.array_equal(dream(fast, steps=10), first), "the same after its buffers were freed"
        with parts["unet"]._running():
            parts["unet"].release_buffers()
        assert len(freed) == 6, "not while it runs"
    finally:
        for part in parts.values():
            part.compiled = part.compiled.compiled


def test_the_run_and_the_cache_key_record_the_backend(fast, slow) -> None:
    from opendream.core.registry import REGISTRY

    spec = REGISTRY.get("dream")
    params = spec.validate_params(DREAM)
    ctx = make_context(fast[0], fast[1], "dream")
    spec.call(params, {}, ctx)
    assert ctx.environment["backend"] == "openvino"
    assert spec.identity(params, ctx)["backend"] == "openvino"
    torch_ctx = make_context(slow[0], slow[1], "dream")
    spec.call(params, {}, torch_ctx)
    assert "backend" not in torch_ctx.environment and "backend" not in spec.identity(params, torch_ctx)


def test_a_run_with_a_lora_runs_the_parts_it_changes_on_torch(
    fast, slow, tiny_dir: Path, tmp_path: Path
) -> None:
    lora = build_tiny_lora(tiny_dir / "txt2img", tmp_path / "a.safetensors", seed=1)
    chosen = {"loras": [{"model": str(lora), "weight": 1.0}]}
    with_lora = dream(fast, **chosen)
    used = openvino_backend.parts_used()
    assert (used["unet"], used["text_encoder"]) == ("torch", "torch"), "the UNet's weights read again"
    assert used["vae_decoder"] == "openvino", "a LoRA does not change the VAE"
    difference = np.abs(with_lora - dream(slow, **chosen))
    assert difference.max() <= MAX_LEVELS and difference.mean() <= MEAN_LEVELS
    dream(fast)
    assert set(openvino_backend.parts_used().values()) == {"openvino"}, "the next run without is back"


def _start_in_a_new_process(tiny_dir: Path, data_dir: Path) -> dict[str, Any]:
    """What another process's start said, and how many torch UNet weights it read."""
    script = (
        "import json, sys\n"
        "from opendream.diffusion.manager import ModelManager\n"
        "from opendream.settings import Settings\n"
        f"settings = Settings(tiny_models=True, tiny_models_dir={str(tiny_dir)!r}, data_dir={str(data_dir)!r}, "
        "device='cpu', backend='openvino')\n"
        "said = []\n"
        "pipe = ModelManager(settings, device='cpu', dtype='float32').get('txt2img', status=said.append)\n"
        "print(json.dumps({'said': said, 'unet_weights': sum(p.numel() for p in pipe.unet.parameters())}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={**os.environ}, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cached_part(pair: tuple[ModelManager, Settings], name: str) -> Path:
    """The folder of part ``name``'s converted model (of the tiny txt2img model)."""
    manager = pair[0]
    pipe = manager.get("txt2img")
    (part,) = [p for p in openvino_backend.pipeline_parts(pipe, "sd1") if p.name == name]
    return manager.openvino_cache / openvino_backend.cache_key(manager.identity("", "dream"), part)


def test_another_process_reuses_the_converted_model_and_a_corrupt_one_is_rebuilt(
    fast, tiny_dir: Path, data_dir: Path
) -> None:
    dream(fast)  # converted (once) in this process
    start = _start_in_a_new_process(tiny_dir, data_dir)
    assert not any("optimising" in s for s in start["said"]), start
    assert start["unet_weights"] == 0, "the torch UNet's weights are not read"
    (_cached_part(fast, "unet") / "model.xml").write_text("<not a model")
    start = _start_in_a_new_process(tiny_dir, data_dir)
    assert any(
        "optimising the model for this CPU (once per model): part 1 of " in s for s in start["said"]
    ), start
    assert (_cached_part(fast, "unet") / "complete").is_file(), "converted again"


def test_a_start_compiles_the_parts_it_had_last_time_while_the_pipeline_is_read(fast) -> None:
    """``prefetch`` starts compiling, from the disk cache, the converted parts the model's last
    start attached; a manifest that cannot be read, or names a part no longer converted, costs
    nothing but its work (``attach`` checks each part again); one naming a path is not followed."""
    dream(fast)
    manager = fast[0]
    identity = manager.identity("", "dream")
    names = {_cached_part(fast, name).name for name in ("unet", "text_encoder", "vae_decoder", "vae_encoder")}
    pending = openvino_backend.prefetch(identity, manager.openvino_cache)
    assert set(pending) == names
    assert all(hasattr(future.result(timeout=120), "create_infer_request") for future in pending.values())

    manifest = openvino_backend.manifest_path(identity, manager.openvino_cache)
    kept = manifest.read_text()
    try:
        manifest.write_text("[not json")
        assert openvino_backend.prefetch(identity, manager.openvino_cache) == {}
        # A path, even to a folder that looks converted, is not a key: never read.
        outside = manager.openvino_cache.parent / "outside"
        outside.mkdir(exist_ok=True)
        (outside / "complete").touch()
        manifest.write_text(json.dumps(["gone", "../outside", str(outside), 7, *sorted(names)[:1]]))
        pending = openvino_backend.prefetch(identity, manager.openvino_cache)
        assert set(pending) == set(sorted(names)[:1])
        # OpenVINO sets the process's locale to C while it reads a model: nothing of it may
        # outlive the test (text written meanwhile would be ASCII), so it is waited for.
        assert all(hasattr(future.result(timeout=120), "create_infer_request") for future in pending.values())
    finally:
        manifest.write_text(kept)
        shutil.rmtree(manager.openvino_cache.parent / "outside", ignore_errors=True)


def test_a_changed_conversion_converts_that_part_again_and_removes_its_old_model(
    fast, tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When one kind of part's conversion changes (here the text encoders'), a model's next load
    converts only those parts again and removes their old converted models (GBs each at real
    sizes), with the compiled blobs older versions kept in one shared folder; each converted
    part keeps its compiled blob beside it. A manifest never names a path to remove."""
    dream(fast)
    parts = ("unet", "text_encoder", "vae_decoder", "vae_encoder")
    old = {name: _cached_part(fast, name).name for name in parts}
    cache = tmp_path / "openvino"
    shutil.copytree(fast[0].openvino_cache, cache, ignore=shutil.ignore_patterns("compiled"))
    (cache / "compiled").mkdir()
    (cache / "compiled" / "1234.blob").write_bytes(b"blob")
    outside = tmp_path / "outside"
    outside.mkdir()
    manager = ModelManager(make_settings(tiny_dir, tmp_path, "openvino"), device="cpu", dtype="float32")
    identity = manager.identity("", "dream")
    manifest = openvino_backend.manifest_path(identity, cache)
    manifest.write_text(json.dumps([*old.values(), "../outside", str(outside), 7]))
    monkeypatch.setattr(openvino_backend.TextPart, "conversion", "a later one")

    said: list[str] = []
    pipe = manager.get("txt2img", status=said.append)
    optimised = [s for s in said if "optimising" in s]
    assert optimised == ["optimising the model for this CPU (once per model): part 2 of 4…"], said
    new = {
        part.name: cache / openvino_backend.cache_key(identity, part)
        for part in openvino_backend.pipeline_parts(pipe, "sd1")
    }
    assert new["text_encoder"].name != old["text_encoder"]
    assert not (cache / old["text_encoder"]).exists() and not (cache / "compiled").exists()
    assert all(new[name].name == old[name] for name in parts if name != "text_encoder")
    assert outside.is_dir(), "not a key: never removed"
    assert set(json.loads(manifest.read_text())) == {folder.name for folder in new.values()}
    assert all(any((folder / "compiled").iterdir()) for folder in new.values()), "each its own blob"
    image = dream((manager, manager.settings))
    assert set(openvino_backend.parts_used().values()) == {"openvino"}
    assert np.array_equal(image, dream(fast)), "the same conversion under another key"


def test_a_load_that_fails_leaves_no_openvino_work_running(
    fast, tiny_dir: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parts ``prefetch`` started before the pipeline was read are waited for when reading
    it fails, as when it succeeds: OpenVINO sets the process's locale while it reads a model."""
    dream(fast)  # the manifest of the model's converted parts exists
    started: list[dict[str, Any]] = []
    prefetch = openvino_backend.prefetch
    monkeypatch.setattr(openvino_backend, "prefetch", lambda *a: started.append(prefetch(*a)) or started[-1])
    manager = ModelManager(make_settings(tiny_dir, data_dir, "openvino"), device="cpu", dtype="float32")

    def unreadable(*args: Any) -> Any:
        raise OSError("the disk went away")

    monkeypatch.setattr(manager, "_load", unreadable)
    with pytest.raises(OSError, match="the disk went away"):
        manager.get("txt2img")
    assert started and started[0], "the start compiled the parts it had last time"
    assert all(future.done() for future in started[0].values())


def test_a_part_that_fails_to_convert_stays_on_torch(
    tiny_dir: Path, data_dir: Path, tmp_path: Path, fast, slow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failure injected at the converter for the text encoder only (no real model fails to
    convert on demand): it runs on torch, the rest on OpenVINO."""
    import openvino

    convert = openvino.convert_model

    def refuse_text_encoders(model: Any, **kwargs: Any) -> Any:
        if type(model.inner).__name__ == "CLIPTextModel":
            raise RuntimeError("Cannot convert aten::made_up_op")
        return convert(model, **kwargs)

    monkeypatch.setattr(openvino, "convert_model", refuse_text_encoders)
    # The other parts converted already (the module's data dir), the text encoder's not.
    shutil.copytree(data_dir / "openvino", tmp_path / "openvino", ignore=shutil.ignore_patterns("compiled"))
    shutil.rmtree(tmp_path / "openvino" / _cached_part(fast, "text_encoder").name)
    settings = make_settings(tiny_dir, tmp_path, "openvino")
    manager = ModelManager(settings, device="cpu", dtype="float32")
    said: list[str] = []
    manager.get("txt2img", status=said.append)
    assert any(
        "could not convert the CLIPTextModel (Cannot convert aten::made_up_op); it runs on torch" in s
        for s in said
    )
    image = dream((manager, settings))
    used = openvino_backend.parts_used()
    assert "text_encoder" not in used, "its torch module, untouched"
    assert (used["unet"], used["vae_decoder"]) == ("openvino", "openvino")
    difference = np.abs(image - dream(slow))
    assert difference.max() <= MAX_LEVELS and difference.mean() <= MEAN_LEVELS


def test_sdxl_converts_too(
    tiny_dir: Path, family_dirs: dict[str, Path], data_dir: Path, pinned_threads: int
) -> None:
    model = str(family_dirs["sdxl"])
    fast = ModelManager(make_settings(tiny_dir, data_dir, "openvino"), device="cpu", dtype="float32")
    slow = ModelManager(make_settings(tiny_dir, data_dir, "torch"), device="cpu", dtype="float32")
    for prompt in ("a lighthouse", "a (lighthouse:1.3), [fog]"):
        on_openvino = dream((fast, fast.settings), model=model, prompt=prompt)
        used = openvino_backend.parts_used()
        assert {used[name] for name in ("unet", "text_encoder", "text_encoder_2")} == {"openvino"}, prompt
        difference = np.abs(on_openvino - dream((slow, slow.settings), model=model, prompt=prompt))
        assert difference.max() <= MAX_LEVELS and difference.mean() <= MEAN_LEVELS, prompt


def test_a_replay_on_another_backend_says_the_backend_changed(
    tiny_dir: Path, data_dir: Path, tmp_path: Path, pinned_threads: int
) -> None:
    from opendream.core import workflow
    from opendream.core.project import Project
    from opendream.core.registry import REGISTRY
    from opendream.engine.runtime import make_runtime
    from opendream.engine.workspace import Workspace

    def workspace(backend: str, folder: Path) -> Workspace:
        settings = make_settings(tiny_dir, folder, backend)
        return Workspace(settings, runtime=make_runtime(settings), extensions=[])

    made = workspace("openvino", data_dir)  # its converted models are there already
    try:
        project = Project.new("lighthouse", 64, 64)
        project.add_layer(REGISTRY.get("dream"), DREAM, {})
        made.runner.run_pending(project)
        data = json.dumps(made.export_workflow(project)).encode()
    finally:
        made.close()
    imported = workflow.import_any(data, REGISTRY)
    assert imported.environment["backend"] == "openvino"
    elsewhere = workspace("torch", tmp_path / "elsewhere")
    try:
        copy = elsewhere.import_workflow(imported)
        (layer,) = elsewhere.replay(copy, imported.expected, imported.environment).layers
    finally:
        elsewhere.close()
    assert (layer.result, layer.reason) == ("differs", "backend changed: made on openvino, replayed on torch")
