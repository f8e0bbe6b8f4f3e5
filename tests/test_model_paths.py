"""Models named by a workflow file: only inside the model folders and the Hugging Face cache,
the same answer whether or not an outside path exists, and no hub contact before consent.
Real ``huggingface_hub`` client against a loopback hub (tests.fake_services.hf_hub)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opendream.core.errors import ConsentRequired, ModelUnavailable
from opendream.diffusion.manager import ModelManager
from opendream.diffusion.model_sources import model_roots, resolve_confined
from opendream.settings import Settings
from tests.fake_services import FakeService, HubRepo, hf_hub, serve, use_hub

REPO = "opendream-tests/tiny-sd"


@pytest.fixture
def hub(tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeService]:
    with serve(hf_hub(FakeService(), {REPO: HubRepo(tiny_dir / "txt2img")})) as service:
        use_hub(monkeypatch, service.url, tmp_path / "hf-cache")
        yield service


@pytest.fixture
def settings(tiny_settings: Settings, tmp_path: Path) -> Settings:
    return tiny_settings.model_copy(
        update={"data_dir": tmp_path / "data", "model_dirs": [tmp_path / "models"]}
    )


def _outside(tmp_path: Path) -> dict[str, str]:
    secret = tmp_path / "home" / ".ssh"
    secret.mkdir(parents=True)
    (secret / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----")
    return {
        "a system file": "/etc/passwd",
        "a missing system file": "/etc/no-such-file-here",
        "a home folder": str(tmp_path / "home"),
        "a missing home folder": str(tmp_path / "nobody"),
        "an SSH key": str(secret / "id_ed25519"),
        "a missing SSH key": str(secret / "id_rsa"),
        "a tilde path": "~/.ssh/id_rsa",
        "an escape from a model folder": str(tmp_path / "models" / ".." / "home" / ".ssh" / "id_ed25519"),
        "a relative escape": "../home/.ssh/id_ed25519",
    }


def test_a_file_cannot_probe_the_disk_through_model(settings: Settings, tmp_path: Path) -> None:
    """`model` naming a system file, a home folder or an SSH key gave distinguishable errors."""
    roots = model_roots(settings)
    messages = {}
    for what, model in _outside(tmp_path).items():
        with pytest.raises(ModelUnavailable) as caught:
            resolve_confined(model, roots, role="dream")
        messages[what] = caught.value.message.replace(repr(model), "<model>").replace(model, "<model>")
        assert "not in the model folders" in messages[what], what
    assert len(set(messages.values())) == 1, messages


def test_inside_the_model_folders_a_name_or_a_path_resolves(
    settings: Settings, tmp_path: Path, tiny_dir
) -> None:
    import shutil

    shutil.copytree(tiny_dir / "txt2img", tmp_path / "models" / "my-sd")
    roots = model_roots(settings)
    by_name = resolve_confined("my-sd", roots)
    by_path = resolve_confined(str(tmp_path / "models" / "my-sd"), roots)
    assert by_name.kind == by_path.kind == "folder" and by_name.location == by_path.location
    assert resolve_confined(REPO, roots).kind == "hub"
    with pytest.raises(ModelUnavailable, match="not a diffusers folder"):
        (tmp_path / "models" / "empty").mkdir()
        resolve_confined("empty", roots)


def test_a_file_named_hub_model_is_not_downloaded_before_consent(
    hub, settings: Settings, pinned_threads
) -> None:
    """An unknown hub id in an imported file made the server contact the hub with the user's token."""
    manager = ModelManager(settings, device="cpu", dtype="float32")
    with pytest.raises(ConsentRequired, match=f"downloads '{REPO}' from the Hugging Face hub"):
        manager.for_file(allow_download=False).get("txt2img", REPO)
    with pytest.raises(ConsentRequired):
        manager.for_file(allow_download=False).get("txt2img", "someone/unknown-model")
    assert hub.requests == [], "no request reached the hub"
    # The same view refuses outside paths at once, and a user's own recipe is not confined.
    with pytest.raises(ModelUnavailable, match="not in the model folders"):
        manager.for_file(allow_download=True).get("txt2img", "/etc/passwd")
    with pytest.raises(ModelUnavailable, match="neither a safetensors nor"):
        manager.get("txt2img", "/etc/passwd")

    pipe = manager.for_file(allow_download=True).get("txt2img", REPO)  # the user said yes
    assert type(pipe).__name__ == "StableDiffusionPipeline" and hub.requests
    # Once cached, it is used without asking.
    assert manager.for_file(allow_download=False).get("txt2img", REPO) is pipe


def test_cli_run_refuses_a_files_outside_model_and_waits_for_a_hub_download(
    hub, settings: Settings, tmp_path: Path, monkeypatch
) -> None:
    from opendream.cli import app as cli

    monkeypatch.setenv("OPENDREAM_MODEL_DIRS", json.dumps([str(tmp_path / "models")]))
    layers = [
        {"id": "L1", "name": "probe", "kind": "image", "op": "dream", "op_version": "1",
         "params": {"prompt": "x", "model": "/etc/passwd", "width": 64, "height": 64, "steps": 1},
         "inputs": {}, "visible": True, "opacity": 1.0},
        {"id": "L2", "name": "hub", "kind": "image", "op": "dream", "op_version": "1",
         "params": {"prompt": "x", "model": "someone/unknown-model", "width": 64, "height": 64, "steps": 1},
         "inputs": {}, "visible": True, "opacity": 1.0},
    ]  # fmt: skip
    document = {"format": "opendream.workflow", "version": 1, "name": "probe",
                "canvas": {"width": 64, "height": 64}, "layers": layers}  # fmt: skip
    path = tmp_path / "w.json"
    path.write_text(json.dumps(document))
    result = CliRunner().invoke(
        cli, ["run", str(path), "--data-dir", str(tmp_path / "data"), "--tiny-models", "--json"]
    )
    assert result.stdout, (result.output, result.exception)
    report = {x["layer"]: x for x in json.loads(result.stdout)["layers"]}
    assert "not in the model folders" in report["L1"]["error"]
    assert report["L2"]["outcome"] == "needs consent" and "Hugging Face hub" in report["L2"]["error"]
    assert hub.requests == []
