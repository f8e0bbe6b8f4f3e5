"""LoRAs on the generation ops, through the real loading code (diffusers' load_lora_weights,
peft) with tiny random LoRAs made at test time in diffusers' and Kohya's formats: a LoRA
changes the pixels, weight 0 and no LoRA give the base's exact pixels, two combine, the cache
key follows the file, concurrent runs with different LoRAs each get what they would alone, and
a LoRA that cannot be had or does not fit fails its layer naming it and leaves the base clean."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from opendream.core.errors import InvalidParams, ModelUnavailable, OpFailed
from opendream.core.registry import REGISTRY
from opendream.diffusion import lora_slots
from opendream.diffusion.manager import ModelManager
from opendream.diffusion.tiny_loras import build_tiny_lora
from tests.diffusion_fixtures import make_context, run_op

DREAM = {"prompt": "a lighthouse", "width": 64, "height": 64, "steps": 2, "seed": 5}


@pytest.fixture(scope="module")
def loras(tiny_dir: Path, family_dirs: dict[str, Path], tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("loras")
    base = tiny_dir / "txt2img"
    return {
        "a": build_tiny_lora(base, folder / "a.safetensors", seed=1),
        "b": build_tiny_lora(base, folder / "b.safetensors", seed=2),
        "kohya": build_tiny_lora(base, folder / "kohya.safetensors", seed=1, fmt="kohya"),
        "sdxl": build_tiny_lora(family_dirs["sdxl"], folder / "sdxl.safetensors", seed=3),
        "flux": build_tiny_lora(family_dirs["flux1"], folder / "flux.safetensors", seed=4),
    }


@pytest.fixture
def manager(tiny_settings: Any, pinned_threads: int) -> ModelManager:
    return ModelManager(tiny_settings, device="cpu", dtype="float32")


def dream(manager: ModelManager, settings: Any, *loras: tuple[Path, float], **params: Any) -> np.ndarray:
    chosen = [{"model": str(path), "weight": weight} for path, weight in loras]
    (layer,) = run_op("dream", {**DREAM, **params, "loras": chosen}, {}, manager, settings)
    return np.asarray(layer.image)


def test_a_lora_changes_the_picture_and_leaves_the_base_clean(loras, manager, tiny_settings) -> None:
    base = dream(manager, tiny_settings)
    with_a = dream(manager, tiny_settings, (loras["a"], 1.0))
    assert not np.array_equal(base, with_a)
    assert np.array_equal(dream(manager, tiny_settings), base), "without it: the base's exact pixels"
    assert np.array_equal(dream(manager, tiny_settings, (loras["a"], 0.0)), base), "weight 0 = no LoRA"
    assert np.array_equal(dream(manager, tiny_settings, (loras["a"], 1.0)), with_a), "and back"
    half = dream(manager, tiny_settings, (loras["a"], 0.5))
    assert not np.array_equal(half, with_a) and not np.array_equal(half, base)
    assert manager.stats["loads"] == 3, "the base, the LoRA and the previews' tiny autoencoder, each once"


def test_kohya_files_load_like_diffusers_ones(loras, manager, tiny_settings) -> None:
    """The same weights in Kohya's names (converted by diffusers) make the same picture."""
    diffusers_format = dream(manager, tiny_settings, (loras["a"], 1.0))
    kohya = dream(manager, tiny_settings, (loras["kohya"], 1.0))
    assert np.abs(kohya.astype(int) - diffusers_format.astype(int)).max() <= 1


def test_two_loras_combine(loras, manager, tiny_settings) -> None:
    a = dream(manager, tiny_settings, (loras["a"], 1.0))
    b = dream(manager, tiny_settings, (loras["b"], 1.0))
    both = dream(manager, tiny_settings, (loras["a"], 1.0), (loras["b"], 1.0))
    assert not np.array_equal(both, a) and not np.array_equal(both, b)
    assert np.array_equal(dream(manager, tiny_settings, (loras["b"], 1.0), (loras["a"], 1.0)), both)


def test_a_new_lora_file_is_copied_into_an_adapter_no_run_holds(loras, manager, tiny_settings) -> None:
    """Another LoRA of the same shape goes into the loaded one's adapter in place (no new
    adapter), with the pixels a fresh load gives; an adapter a pending run holds is never
    refilled; a LoRA of another shape (Kohya's alphas) gets an adapter of its own."""
    pipe = manager.get("txt2img")
    a = dream(manager, tiny_settings, (loras["a"], 1.0))
    b = dream(manager, tiny_settings, (loras["b"], 1.0))
    assert len(pipe.get_list_adapters()["unet"]) == 1, "b refilled a's adapter"
    fresh = ModelManager(tiny_settings, device="cpu", dtype="float32")
    assert np.array_equal(dream(fresh, tiny_settings, (loras["b"], 1.0)), b), "as a load of b alone"
    assert np.array_equal(dream(manager, tiny_settings, (loras["a"], 1.0)), a), "and back to a"

    pending = manager.adapters(pipe, [(str(loras["a"]), 1.0)])  # a run about to use a
    assert np.array_equal(dream(manager, tiny_settings, (loras["b"], 1.0)), b)
    assert len(pipe.get_list_adapters()["unet"]) == 2, "a's adapter was held: b got another"
    with pending.applied(pipe):
        assert pipe.get_active_adapters() == [pending.active[0][0]]
    del pending
    assert all(slot.pins == 0 for slot in lora_slots.slots(manager.cache.entry_of(pipe))), "released"
    assert np.array_equal(
        dream(manager, tiny_settings, (loras["kohya"], 1.0)),
        dream(fresh, tiny_settings, (loras["kohya"], 1.0)),
    )
    assert len(pipe.get_list_adapters()["unet"]) == 3, "another shape: an adapter of its own"
    assert np.array_equal(dream(manager, tiny_settings, (loras["a"], 1.0)), a)
    assert np.array_equal(dream(manager, tiny_settings, (loras["b"], 1.0)), b)


def test_every_generation_op_takes_loras(loras, manager, tiny_settings) -> None:
    from PIL import Image

    from opendream import ImageLayer, MaskLayer

    picture = ImageLayer(Image.fromarray(dream(manager, tiny_settings)))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    cases = [
        ("img2img", {"prompt": "a", "steps": 2}, {"image_layer": picture}),
        (
            "mask_and_inpaint",
            {"prompt": "a", "steps": 2},
            {"image_layer": picture, "mask_layer": MaskLayer(mask)},
        ),
        ("controlnet_canny", {"prompt": "a", "steps": 2, "image_is_edge_map": True}, {"image": picture}),
    ]
    for op, params, layers in cases:
        (plain,) = run_op(op, params, layers, manager, tiny_settings)
        lora = [{"model": str(loras["a"]), "weight": 1.0}]
        if op == "mask_and_inpaint":  # its default model is the 9-channel inpainting one
            params = {**params, "model": str(Path(tiny_settings.tiny_models_dir) / "txt2img")}
            (plain,) = run_op(op, params, layers, manager, tiny_settings)
        (steered,) = run_op(op, {**params, "loras": lora}, layers, manager, tiny_settings)
        assert not np.array_equal(np.asarray(plain.image), np.asarray(steered.image)), op


def test_the_cache_key_follows_the_lora_file(loras, manager, tiny_settings, tmp_path) -> None:
    spec = REGISTRY.get("dream")
    ctx = make_context(manager, tiny_settings, "dream")
    copy = tmp_path / "mine.safetensors"
    copy.write_bytes(loras["a"].read_bytes())
    params = spec.validate_params({**DREAM, "loras": [{"model": str(copy)}]})
    before = spec.identity(params, ctx)
    assert spec.identity(spec.validate_params(DREAM), ctx).keys() == {"model"}, "no LoRA: the key as before"
    copy.write_bytes(loras["b"].read_bytes())
    assert spec.identity(params, ctx)["loras"] != before["loras"]


def test_concurrent_runs_with_different_loras_each_get_their_own(loras, manager, tiny_settings) -> None:
    cases = {
        "none": (),
        "a": ((loras["a"], 1.0),),
        "b": ((loras["b"], 1.0),),
        "ab": ((loras["a"], 1.0), (loras["b"], 0.7)),
    }
    alone = {name: dream(manager, tiny_settings, *chosen) for name, chosen in cases.items()}
    results: dict[str, list[np.ndarray]] = {name: [] for name in cases}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            for _ in range(3):
                results[name].append(dream(manager, tiny_settings, *cases[name]))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in cases for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors

    def distance(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a.astype(int) - b.astype(int)).mean())

    for name, pictures in results.items():
        assert len(pictures) == 6, name
        for picture in pictures:
            # Threads sharing the CPU can split a reduction differently (a level here and
            # there); another job's adapter would change the picture wholesale.
            assert distance(picture, alone[name]) < 0.5, name
            assert all(distance(picture, alone[other]) > 5 for other in cases if other != name), name


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("sdxl", r"LoRA '.*sdxl\.safetensors' does not fit the Stable Diffusion 1\.x model"),
        ("missing", r"missing\.safetensors"),
        ("corrupt", r"LoRA '.*corrupt\.safetensors' does not fit|corrupt\.safetensors"),
    ],
)
def test_a_lora_that_cannot_be_had_fails_naming_it_and_leaves_the_base_clean(
    which, message, loras, manager, tiny_settings, tmp_path
) -> None:
    base = dream(manager, tiny_settings)
    path = {
        "sdxl": loras["sdxl"],
        "missing": tmp_path / "missing.safetensors",
        "corrupt": tmp_path / "corrupt.safetensors",
    }[which]
    if which == "corrupt":
        path.write_bytes(b'\x08\x00\x00\x00\x00\x00\x00\x00{"a":1}')
    with pytest.raises((ModelUnavailable, OpFailed), match=message):
        dream(manager, tiny_settings, (path, 1.0))
    pipe = manager.get("txt2img")
    assert not any(pipe.get_list_adapters().values()), "no adapter left behind"
    assert np.array_equal(dream(manager, tiny_settings), base)


def test_a_flux_lora_on_a_flux_model(loras, family_dirs, manager, tiny_settings) -> None:
    flux = {"model": str(family_dirs["flux1"]), "width": 64, "height": 64}
    base = dream(manager, tiny_settings, **flux)
    steered = dream(manager, tiny_settings, (loras["flux"], 1.0), **flux)
    assert not np.array_equal(base, steered)
    assert np.array_equal(dream(manager, tiny_settings, **flux), base)


@pytest.mark.parametrize(
    ("loras_param", "message"),
    [
        ([{"model": "x.safetensors", "weight": 5}], r"loras.*at most 4"),
        ([{"model": ""}], r"loras"),
        ([{"model": f"{i}.safetensors"} for i in range(9)], r"loras"),
        ([{"model": "x.safetensors", "strength": 1}], r"loras"),
    ],
)
def test_bad_loras_are_refused_before_anything_runs(loras_param, message) -> None:
    with pytest.raises(InvalidParams, match=message):
        REGISTRY.get("dream").validate_params({**DREAM, "loras": loras_param})


def test_a_lora_listed_twice_is_refused_before_anything_runs(loras) -> None:
    twice = [{"model": str(loras["a"]), "weight": 1.0}, {"model": str(loras["a"]), "weight": 0.5}]
    with pytest.raises(InvalidParams, match=r"`loras`: lists '.*a\.safetensors' twice"):
        REGISTRY.get("dream").validate_params({**DREAM, "loras": twice})


def test_a_lora_whose_names_say_another_family_is_refused_before_loading(
    manager, tiny_settings, tmp_path
) -> None:
    import torch
    from safetensors.torch import save_file

    key = "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight"
    path = tmp_path / "pony.safetensors"
    save_file({key: torch.zeros(4, 2048)}, str(path))
    dream(manager, tiny_settings)
    loads = manager.stats["loads"]
    with pytest.raises(
        (ModelUnavailable, OpFailed),
        match=r"LoRA '.*pony\.safetensors' was made for SDXL but the model .* is Stable Diffusion 1\.x",
    ):
        dream(manager, tiny_settings, (path, 1.0))
    assert manager.stats["loads"] == loads


def test_a_workflow_files_lora_has_to_be_in_the_model_folders(
    loras, manager, tiny_settings, tmp_path
) -> None:
    """A recipe from a file names paths on someone else's machine: like its model, its LoRA
    resolves only inside the model folders (the tiny models' among them here)."""
    pipe = manager.get("txt2img")
    outside = tmp_path / "elsewhere.safetensors"
    outside.write_bytes(loras["a"].read_bytes())
    view = manager.for_file(allow_download=False)
    with pytest.raises(ModelUnavailable, match=r"elsewhere\.safetensors"):
        view.adapters(pipe, [(str(outside), 1.0)])
    inside = Path(tiny_settings.tiny_models_dir) / "mine.safetensors"
    inside.write_bytes(loras["a"].read_bytes())
    try:
        assert view.adapters(pipe, [(str(inside), 1.0)]).active
    finally:
        inside.unlink()
    with pytest.raises(Exception, match=r"consent|downloads"):
        view.adapters(pipe, [("someone/some-lora", 1.0)])


def test_a_layer_with_loras_round_trips_through_a_workflow_file(tiny_client, tiny_dir, loras) -> None:
    """Exported, imported, run again: the same recipe and the same pixels (the LoRA sits in a
    model folder, where a file's recipe may name it)."""
    import json

    from tests.server_fixtures import new_project, wait_idle

    style = tiny_dir / "style.safetensors"
    style.write_bytes(loras["a"].read_bytes())
    try:
        pid = new_project(tiny_client, width=64, height=64)["id"]
        chosen = [{"model": str(style), "weight": 0.8}]
        params = {"prompt": "a", "steps": 2, "loras": chosen}
        assert (
            tiny_client.post(
                f"/api/projects/{pid}/layers", json={"op": "dream", "params": params}
            ).status_code
            == 201
        )
        (made,) = wait_idle(tiny_client, pid, 120)["layers"]
        assert made["status"] == "ready", made
        assert made["run"]["environment"]["loras"][0]["model"] == str(style)
        document = tiny_client.get(f"/api/projects/{pid}/workflow").json()
        assert document["layers"][0]["params"]["loras"] == chosen
        document["layers"][0]["result"] = None  # make the import run it again
        files = {"file": ("loras.json", json.dumps(document).encode(), "application/json")}
        imported = tiny_client.post("/api/projects/import", files=files)
        assert imported.status_code == 201, imported.text
        (again,) = wait_idle(tiny_client, imported.json()["project"]["id"], 120)["layers"]
    finally:
        style.unlink()
    assert again["status"] == "ready", again
    assert again["recipe"]["params"]["loras"] == chosen and again["blob"] == made["blob"]


def test_a_lora_at_the_size_the_ui_proposes(loras, manager, tiny_settings) -> None:
    size = {"width": 512, "height": 512}
    base = dream(manager, tiny_settings, **size)
    assert not np.array_equal(dream(manager, tiny_settings, (loras["a"], 1.0), **size), base)
    assert np.array_equal(dream(manager, tiny_settings, (loras["a"], 0.0), **size), base)


@pytest.mark.parametrize("with_lora", [False, True])
def test_a_job_waiting_for_another_runs_lora_can_be_cancelled(
    with_lora, loras, manager, tiny_settings
) -> None:
    """While another job's run holds the model (here: held by the test), a job waiting for it
    notices its cancel within a moment, and leaves the model free for the next."""
    import time

    from opendream.core.errors import Cancelled

    dream(manager, tiny_settings)  # loaded
    base = manager.cache.entry_of(manager.get("txt2img"))
    spec = REGISTRY.get("dream")
    chosen = [{"model": str(loras["a"]), "weight": 1.0}] if with_lora else []
    params = spec.validate_params({**DREAM, "loras": chosen})
    ctx = make_context(manager, tiny_settings, "dream")
    outcome: list[BaseException] = []

    def job() -> None:
        try:
            spec.call(params, {}, ctx)
        except BaseException as exc:  # the test reads it
            outcome.append(exc)

    with base.adapter_lock.exclusive():  # another job's LoRA run
        thread = threading.Thread(target=job)
        thread.start()
        time.sleep(0.3)
        assert thread.is_alive(), "it waits for the model"
        cancelled_at = time.perf_counter()
        ctx.cancel()
        thread.join(5)
        assert not thread.is_alive() and time.perf_counter() - cancelled_at < 1.0
    assert len(outcome) == 1 and isinstance(outcome[0], Cancelled)
    assert dream(manager, tiny_settings).shape == (64, 64, 3), "the model is free again"
