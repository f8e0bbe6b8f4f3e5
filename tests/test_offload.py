"""Where a model's weights go: on the device, or offloaded to the computer's memory when they do
not fit the GPU's budget (OPENDREAM_OFFLOAD=auto|none|model|sequential), and a model too big
even for the computer's memory is refused with what it needs. The decision is a pure function
(the GPU path itself needs a GPU); the manager's wiring runs here on the CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from opendream.core.errors import ModelUnavailable
from opendream.diffusion.manager import ModelManager
from opendream.diffusion.offload import GB, Placement, largest_share, placement
from opendream.settings import Settings


def where(
    setting: str = "auto", device: str = "cuda", needed: int = 10 * GB, largest: int = 6 * GB
) -> Placement:
    return placement(setting, device, needed, largest, budget=8 * GB, host=64 * GB, name="big/model")


def test_what_fits_the_budget_goes_on_the_device() -> None:
    assert where(needed=7 * GB) == Placement("device")
    assert where(needed=0) == Placement("device"), "unknown size (not downloaded yet)"


def test_auto_offloads_a_model_at_a_time_when_its_biggest_part_fits() -> None:
    found = where()
    assert found.mode == "model"
    assert "needs about 10.0 GB, the cuda budget is 8.0 GB" in found.why


def test_auto_offloads_layer_by_layer_when_even_one_part_does_not_fit() -> None:
    assert where(largest=9 * GB).mode == "sequential"


@pytest.mark.parametrize("setting", ["model", "sequential"])
def test_a_chosen_offload_holds_even_when_the_model_fits(setting: str) -> None:
    found = where(setting, needed=GB)
    assert found.mode == setting and "OPENDREAM_OFFLOAD" in found.why


def test_none_and_the_cpu_keep_weights_where_they_are() -> None:
    assert where("none") == Placement("device")
    assert where("model", device="cpu") == Placement("device"), "on the CPU they already are in memory"


def test_a_model_too_big_even_offloaded_says_what_it_needs() -> None:
    with pytest.raises(
        ModelUnavailable,
        match=r"'big/model' needs about 80\.0 GB of memory, more than this computer has \(64\.0 GB\)",
    ):
        where(needed=80 * GB)


def test_the_biggest_components_share(tmp_path: Path) -> None:
    for part, size in {"transformer": 3000, "vae": 500, "text_encoder": 1500}.items():
        (tmp_path / part).mkdir()
        (tmp_path / part / "model.safetensors").write_bytes(b"\0" * size)
    (tmp_path / "scheduler").mkdir()
    assert largest_share(tmp_path) == pytest.approx(0.6)


def test_the_manager_loads_on_the_cpu_whatever_the_setting(
    tiny_dir: Path, tmp_path: Path, pinned_threads: int
) -> None:
    settings = Settings(data_dir=tmp_path, device="cpu", offload="sequential")
    manager = ModelManager(settings, device="cpu", dtype="float32")
    said: list[str] = []
    pipe = manager.get("txt2img", str(tiny_dir / "txt2img"), status=said.append)
    assert said == [f"loading model {tiny_dir / 'txt2img'}"], "no offloading claimed on the CPU"
    assert pipe.unet.device.type == "cpu"


def test_a_bad_offload_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="offload"):
        Settings(data_dir=tmp_path, offload="sometimes")
