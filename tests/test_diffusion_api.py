"""Diffusion backend without running a model: import hygiene, validation, sources, the
original Opendream's params."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pydantic
import pytest

import opendream.diffusion.ops  # noqa: F401  (registers the ops)
from opendream.core.errors import InvalidParams, ModelUnavailable
from opendream.core.registry import REGISTRY
from opendream.diffusion.model_sources import resolve_source, sniff_file
from opendream.fields import TextToImage
from opendream.models import ModelRole, configured_model, declare_role, get_role


def test_importing_the_ops_does_not_import_torch() -> None:
    code = (
        "import sys, opendream.diffusion, opendream.diffusion.ops, opendream.diffusion.manager, "
        "opendream.diffusion.tiny, opendream.diffusion.device\n"
        "from opendream.core.registry import REGISTRY\n"
        "assert {'dream', 'img2img', 'mask_and_inpaint'} <= set(REGISTRY.ops)\n"
        "bad = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def _errors(op: str, params: dict) -> dict[str, str]:
    with pytest.raises(InvalidParams) as info:
        REGISTRY.get(op).validate_params(params)
    return {e["param"]: e["message"] for e in info.value.errors}


def test_validation_errors_name_the_parameter() -> None:
    assert "width" in _errors("dream", {"prompt": "x", "width": 100})
    assert "multiple of 8" in _errors("dream", {"prompt": "x", "height": 100})["height"]
    assert "width" in _errors("dream", {"prompt": "x", "width": 4096})
    assert "width" in _errors("dream", {"prompt": "x", "width": 0})
    assert "steps" in _errors("dream", {"prompt": "x", "steps": 0})
    assert "scheduler" in _errors("dream", {"prompt": "x", "scheduler": "plms"})
    assert "num_images" in _errors("dream", {"prompt": "x", "num_images": 0})
    assert "prompt" in _errors("dream", {})
    assert "strength" in _errors("img2img", {"prompt": "x", "strength": 1.5})
    assert "strength" in _errors("mask_and_inpaint", {"prompt": "x", "strength": 0})
    assert "mask_feather" in _errors("mask_and_inpaint", {"prompt": "x", "mask_feather": -1})


def test_direct_calls_are_checked_too() -> None:
    """The op functions check their inputs before any model work (diffusers style); the
    parameter groups they take check theirs when made."""
    from opendream.diffusion.ops import dream

    with pytest.raises(pydantic.ValidationError, match=r"width\n.*multiple of 8"):
        dream(TextToImage(prompt="x", width=100))
    with pytest.raises(pydantic.ValidationError, match=r"steps\n.*greater than or equal to 1"):
        dream(TextToImage(prompt="x", steps=0))
    with pytest.raises(InvalidParams, match="`num_images`"):
        dream(TextToImage(prompt="x"), num_images=0)


def test_schema_marks_layers_and_prompt_widget() -> None:
    schema = REGISTRY.get("mask_and_inpaint").schema()
    assert schema["properties"]["mask_layer"]["x-opendream-layer"] == "mask"
    assert schema["properties"]["image_layer"]["x-opendream-layer"] == "image"
    dream_schema = REGISTRY.get("dream").schema()
    assert dream_schema["properties"]["prompt"]["x-opendream-widget"] == "textarea"
    prompts = [
        dream_schema["properties"][name].get("x-opendream-prompt") for name in ("prompt", "negative_prompt")
    ]
    assert prompts == [True, True]
    assert "x-opendream-prompt" not in REGISTRY.get("serverless").schema()["properties"]["extra"]
    assert dream_schema["properties"]["seed"]["x-opendream-widget"] == "seed"
    assert dream_schema["properties"]["scheduler"]["enum"] == [
        "euler_a",
        "euler",
        "dpmpp_2m",
        "ddim",
        "unipc",
        "lcm",
        "tcd",
        "euler_trailing",
        "default",
    ]
    assert REGISTRY.get("dream").identity is not None


def _safetensors_file(path: Path) -> Path:
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 8)
    return path


def test_files_are_classified_by_content_not_extension(tmp_path: Path) -> None:
    assert sniff_file(_safetensors_file(tmp_path / "model.SafeTensors")) == "safetensors"
    assert sniff_file(_safetensors_file(tmp_path / "model.ckpt")) == "safetensors"
    (tmp_path / "evil.safetensors").write_bytes(b"\x80\x04\x95" + b"\0" * 32)
    assert sniff_file(tmp_path / "evil.safetensors") == "pickle"
    (tmp_path / "zip.safetensors").write_bytes(b"PK\x03\x04" + b"\0" * 32)
    assert sniff_file(tmp_path / "zip.safetensors") == "pickle"
    assert resolve_source(str(tmp_path / "model.SafeTensors")).kind == "safetensors"
    (tmp_path / "junk.bin").write_bytes(b"hello world")
    with pytest.raises(ModelUnavailable, match="neither a safetensors"):
        resolve_source(str(tmp_path / "junk.bin"))


def test_missing_sources_say_how_to_provide_them(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match=r"not found.*huggingface-cli download"):
        resolve_source(str(tmp_path / "nope"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelUnavailable, match="not a diffusers folder"):
        resolve_source(str(empty))
    with pytest.raises(ModelUnavailable, match="OPENDREAM_INPAINT_MODEL"):
        resolve_source("not a repo id!", role="inpaint")
    assert resolve_source("owner/name", revision="abc").kind == "hub"


def test_default_model_follows_settings(tmp_path: Path) -> None:
    from opendream.settings import Settings

    settings = Settings(data_dir=tmp_path, dream_model="me/my-model")
    assert configured_model(settings, "dream") == "me/my-model"
    assert configured_model(settings, "inpaint") == settings.inpaint_model
    with pytest.raises(ValueError, match="`role`"):
        configured_model(settings, "bogus")


def test_an_extension_declares_a_model_role(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from opendream.settings import Settings

    built: list[Path] = []

    def tiny(folder: Path) -> Path:
        built.append(folder)
        return folder / "segmenter"

    role = declare_role(
        ModelRole("acme_segmenter", default="acme/segmenter-base", form="a folder", tiny=tiny)
    )
    assert get_role("acme_segmenter") is role and role.env == "OPENDREAM_ACME_SEGMENTER_MODEL"
    settings = Settings(data_dir=tmp_path)
    assert configured_model(settings, "acme_segmenter") == "acme/segmenter-base"
    monkeypatch.setenv("OPENDREAM_ACME_SEGMENTER_MODEL", "me/segmenter")
    assert configured_model(settings, "acme_segmenter") == "me/segmenter"
    tiny_settings = Settings(data_dir=tmp_path, tiny_models=True)
    assert configured_model(tiny_settings, "acme_segmenter") == str(tmp_path / "tiny-models" / "segmenter")
    assert built == [tmp_path / "tiny-models"]
    with pytest.raises(ModelUnavailable, match=r"Provide it as a folder.*OPENDREAM_ACME_SEGMENTER_MODEL"):
        resolve_source("not a repo id!", role="acme_segmenter")
    with pytest.raises(ValueError, match=r"acme_segmenter.*not a declared one"):
        configured_model(settings, "not a declared one")
    with pytest.raises(ValueError, match="Python identifier"):
        declare_role(ModelRole("acme-segmenter", default="x"))


ORIGINAL_DREAM = {  # what the original app recorded for a dream: every option of its form
    "prompt": "a cat",
    "model_ckpt": "runwayml/stable-diffusion-v1-5",
    "seed": 42,
    "batch_size": 4,
    "selected": 2,
    "num_steps": 30,
    "guidance_scale": 7.5,
}


def test_dream_declares_its_migration_from_the_original() -> None:
    spec = REGISTRY.get("dream")
    # the default model -> the role's setting; image 2 of a batch seeded 42 is the one seeded 44
    mapped = spec.upgrade_params(ORIGINAL_DREAM, "original")
    assert mapped == {"prompt": "a cat", "seed": 44, "steps": 30, "guidance_scale": 7.5}
    assert spec.validate_params(mapped)["model"] == ""
    # another model is the user's: kept
    kept = spec.upgrade_params({**ORIGINAL_DREAM, "model_ckpt": "me/my-model", "selected": 0}, "original")
    assert kept == {"prompt": "a cat", "seed": 42, "steps": 30, "guidance_scale": 7.5, "model": "me/my-model"}


def test_inpaint_declares_its_migration_from_the_original() -> None:
    spec = REGISTRY.get("mask_and_inpaint")
    mapped = spec.upgrade_params(
        {"prompt": "x", "model_ckpt": "stabilityai/stable-diffusion-2-inpainting", "num_steps": 5}, "original"
    )
    assert mapped == {"prompt": "x", "steps": 5, "guidance_scale": 11.0}  # the original's default
    assert spec.upgrade_params({"prompt": "x", "guidance_scale": 4}, "original")["guidance_scale"] == 4
    assert (
        spec.upgrade_params({"prompt": "x", "model_ckpt": "runwayml/stable-diffusion-v1-5"}, "original")[
            "model"
        ]
        == "runwayml/stable-diffusion-v1-5"
    )


@pytest.mark.parametrize(
    ("params", "param", "message"),
    [
        ({"selected": 4}, "selected", "is 4 but the batch has 4 image(s): 0 to 3"),
        ({"selected": -1}, "selected", "has to be an integer >= 0"),
        ({"batch_size": 2.5}, "batch_size", "has to be an integer >= 1, not 2.5"),
        ({"batch_size": "4"}, "batch_size", "not '4'"),
        ({"batch_size": True}, "batch_size", "not True"),
        ({"model_ckpt": 3}, "model_ckpt", "has to be a model name"),
        ({"steps": 3}, "num_steps", "is given together with `steps`"),
        ({"seed": "x"}, "seed", "has to be an integer"),
    ],
)
def test_bad_original_dream_params_name_the_param(params: dict, param: str, message: str) -> None:
    with pytest.raises(InvalidParams) as info:
        REGISTRY.get("dream").upgrade_params({**ORIGINAL_DREAM, **params}, "original")
    ((error,),) = [info.value.errors]
    assert error["param"] == param and message in error["message"]


def test_migration_is_only_from_the_original() -> None:
    with pytest.raises(InvalidParams, match="no migration from '0'"):
        REGISTRY.get("dream").upgrade_params({"prompt": "x"}, "0")


def test_detect_device_on_cpu() -> None:
    from opendream.diffusion.device import detect_device

    assert detect_device("cpu") == ("cpu", "float32")
    device, dtype = detect_device("auto")
    assert (device, dtype) in {("cpu", "float32"), ("cuda", "float16"), ("mps", "float32")}
    with pytest.raises(ValueError, match="`device`"):
        detect_device("tpu")
