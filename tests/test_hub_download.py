"""Models named by a hub repo id, downloaded through the real ``huggingface_hub`` client from a
loopback server that speaks the hub's protocol (``tests.fake_services.hf_hub``) into a
temporary Hugging Face cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from opendream.core.context import Context
from opendream.core.errors import Cancelled, ModelUnavailable
from opendream.core.project import Project
from opendream.core.recipe import asset_ref
from opendream.core.registry import REGISTRY
from opendream.diffusion.manager import ModelManager
from opendream.diffusion.model_sources import identity
from opendream.engine.events import Event
from opendream.engine.runtime import Runtime
from opendream.engine.workspace import Workspace
from opendream.settings import Settings
from tests.fake_services import FakeService, HubRepo, hf_hub, serve, use_hub

REPO = "opendream-tests/tiny-sd"
SHA = "c0ffee" + "0" * 34
CONTROLNET = "opendream-tests/a-controlnet"
PIX2PIX = "opendream-tests/tiny-pix2pix"


@pytest.fixture
def hub(tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeService]:
    """The fake hub, with ``huggingface_hub`` pointed at it and at an empty cache."""
    repos = {
        REPO: HubRepo(tiny_dir / "txt2img", sha=SHA),
        "opendream-tests/gated": HubRepo(tiny_dir / "txt2img", gated=True),
        CONTROLNET: HubRepo(tiny_dir / "controlnet"),
        PIX2PIX: HubRepo(tiny_dir / "pix2pix"),
    }
    with serve(hf_hub(FakeService(), repos, chunk_delay=0.02)) as service:
        use_hub(monkeypatch, service.url, tmp_path / "hf-cache")
        yield service


@pytest.fixture
def manager(tiny_settings: Settings, pinned_threads: int) -> ModelManager:
    return ModelManager(tiny_settings, device="cpu", dtype="float32")


def _cache_dir(tmp_path: Path, repo: str = REPO) -> Path:
    return tmp_path / "hf-cache" / ("models--" + repo.replace("/", "--"))


def test_a_hub_model_is_downloaded_into_the_hf_cache_and_loaded(hub, manager, tmp_path) -> None:
    assert identity(REPO) == {"source": REPO, "revision": "main"}, "not downloaded yet"
    seen: list[tuple[int, int]] = []
    pipe = manager.get("txt2img", REPO, progress=lambda done, total: seen.append((done, total)))
    assert type(pipe).__name__ == "StableDiffusionPipeline" and pipe.unet.config.in_channels == 4
    snapshot = _cache_dir(tmp_path) / "snapshots" / SHA
    assert (snapshot / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    assert (_cache_dir(tmp_path) / "refs" / "main").read_text() == SHA
    assert identity(REPO) == {"source": REPO, "revision": SHA}, "the commit names the weights"
    # progress: bytes received so far, never going back, reaching the weights' size
    weights = sum(p.stat().st_size for p in (_cache_dir(tmp_path) / "blobs").iterdir())
    done = [d for d, _ in seen]
    assert len(done) >= 2 and done == sorted(done) and done[-1] == weights
    # a second get is served from memory: no request reaches the hub
    before = len(hub.requests)
    assert manager.get("txt2img", REPO) is pipe and len(hub.requests) == before
    assert manager.stats["loads"] == 1


def test_a_cancel_stops_waiting_for_a_download(hub, manager) -> None:
    reports: list[int] = []

    def on_download(done: int, total: int) -> None:
        reports.append(done)
        ctx.cancel()

    ctx = Context(op_name="dream", on_download=on_download)
    with pytest.raises(Cancelled):
        manager.get("txt2img", REPO, progress=ctx.download_progress)
    assert len(reports) == 1, "the first report after the cancel raised"
    assert manager.loaded() == [] and manager.stats["loads"] == 0


def test_a_downloaded_model_loads_offline(hub, manager, tiny_settings, monkeypatch) -> None:
    from huggingface_hub import constants

    manager.get("txt2img", REPO)
    manager.clear()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    before = len(hub.requests)
    assert manager.get("txt2img", REPO).unet.config.in_channels == 4
    assert len(hub.requests) == before
    assert manager.stats["loads"] == 2


@pytest.mark.parametrize(
    ("repo", "expect"),
    [
        ("opendream-tests/gated", "it is gated; accept its conditions"),
        ("opendream-tests/no-such-model", "the hub has no such repository"),
        (CONTROLNET, "not a diffusers pipeline (the repository has no model_index.json)"),
        ("unreachable", "the hub could not be reached"),
    ],
)
def test_unavailable_hub_models_are_explained(hub, manager, monkeypatch, repo, expect) -> None:
    if repo == "unreachable":  # nothing listens on the discard port
        from huggingface_hub import hf_api

        monkeypatch.setattr(hf_api.api, "endpoint", "http://127.0.0.1:9")
        repo = REPO
    with pytest.raises(ModelUnavailable) as info:
        manager.get("txt2img", repo)
    message = str(info.value)
    assert repo in message and expect in message
    assert f"huggingface-cli download {repo}" in message and "OPENDREAM_DREAM_MODEL" in message
    assert manager.loaded() == [] and manager.stats["loads"] == 0


def test_the_first_run_after_a_download_is_cached_under_the_commit(hub, tiny_settings, manager) -> None:
    """The key is computed before the run, when the hub id only says "main"; the result is
    stored under the key a later lookup computes (with the commit), so it is found again."""
    runtime = Runtime(settings=tiny_settings, device="cpu", dtype="float32", models=manager, environment={})
    workspace = Workspace(tiny_settings, runtime=runtime, extensions=[])
    try:
        project = Project.new("hub", 64, 64)
        params = {"prompt": "a lighthouse", "width": 64, "height": 64, "steps": 2, "model": REPO}
        project.add_layer(REGISTRY.get("dream"), params, {})
        events: list[Event] = []
        (run,) = workspace.runner.run_pending(project, on_event=events.append)
        assert run.outcome == "computed"
        assert any(e.type == "job.download" and e.data["done_bytes"] > 0 for e in events)
        blob = project.layer("L1").blob
        again = Project.new("hub again", 64, 64)
        again.add_layer(REGISTRY.get("dream"), params, {})
        (run,) = workspace.runner.run_pending(again)
        assert run.outcome == "cached" and again.layer("L1").blob == blob
    finally:
        workspace.close()


def test_a_hub_controlnet_is_downloaded_with_progress(hub, manager, tiny_dir, tmp_path) -> None:
    seen: list[int] = []
    pipe = manager.get(
        "controlnet",
        str(tiny_dir / "txt2img"),
        controlnet=CONTROLNET,
        progress=lambda done, total: seen.append(done),
    )
    assert type(pipe).__name__ == "StableDiffusionControlNetPipeline"
    weights = sum(p.stat().st_size for p in (_cache_dir(tmp_path, CONTROLNET) / "blobs").iterdir())
    assert seen and seen == sorted(seen) and seen[-1] == weights
    assert identity(CONTROLNET)["revision"] != "main", "the commit names the weights"


@pytest.mark.parametrize("repo", ["opendream-tests/gated", "opendream-tests/no-such-controlnet"])
def test_unavailable_hub_controlnets_are_explained(hub, manager, tiny_dir, repo) -> None:
    with pytest.raises(ModelUnavailable) as info:
        manager.get("controlnet", str(tiny_dir / "txt2img"), controlnet=repo)
    message = str(info.value)
    expect = "it is gated" if "gated" in repo else "the hub has no such repository"
    assert f"ControlNet {repo!r}" in message and expect in message
    assert f"huggingface-cli download {repo}" in message


@pytest.mark.parametrize(
    ("op", "params"),
    [
        ("controlnet_canny", {"prompt": "a lighthouse", "steps": 2, "controlnet_model": CONTROLNET}),
        ("instruct_pix2pix", {"instruction": "make it blue", "steps": 2, "model": PIX2PIX}),
    ],
)
def test_bundled_extensions_report_hub_downloads(hub, tiny_settings, manager, op, params) -> None:
    """A layer whose model comes from the hub shows the download, as the built-in ops do."""
    runtime = Runtime(settings=tiny_settings, device="cpu", dtype="float32", models=manager, environment={})
    workspace = Workspace(tiny_settings, runtime=runtime, extensions=[])
    try:
        project = Project.new("hub", 64, 64)
        digest = workspace.data.blobs.put_image(Image.new("RGB", (64, 64), (200, 40, 40)))
        source = project.add_layer(REGISTRY.get("load_image"), {"asset": asset_ref(digest)}, {})
        project.add_layer(REGISTRY.get(op), params, {"image": source.id})
        events: list[Event] = []
        runs = workspace.runner.run_pending(project, on_event=events.append)
        assert runs[-1].outcome == "computed", runs[-1].error
        downloads = [e.data["done_bytes"] for e in events if e.type == "job.download"]
        assert downloads and downloads == sorted(downloads) and downloads[-1] > 0
    finally:
        workspace.close()
