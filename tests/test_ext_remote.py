"""The remote extensions (dalle, serverless) through the engine against real HTTP servers on
127.0.0.1 (tests/fake_services.py): success, 4xx/5xx, retries, malformed bodies, timeouts, and
that secrets never reach a workflow, a log or an error."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from opendream.core.errors import InvalidParams
from opendream.core.project import Project
from opendream.core.recipe import asset_ref
from opendream.core.registry import REGISTRY
from opendream.engine.events import Event, EventSink, ignore
from opendream.engine.runtime import make_runtime
from opendream.engine.workspace import Workspace
from opendream.settings import Settings
from tests.fake_services import FakeService, Reply, a1111, generic, openai_images, replicate, serve
from tests.helpers import gradient, square_mask

KEY = "sk-test-0123456789abcdefSECRET"
TOKEN = "r8_token_0123456789abcdefSECRET"


@pytest.fixture
def service() -> Iterator[FakeService]:
    with serve(FakeService()) as svc:
        yield svc


def workspace_for(tmp_path: Path, **overrides) -> Workspace:
    fields = {"remote_timeout_s": 2, "remote_retries": 2, "remote_backoff_s": 0.01, **overrides}
    settings = Settings(data_dir=tmp_path / "data", **fields)
    return Workspace(settings, runtime=make_runtime(settings, load_models=False), extensions=[])


@pytest.fixture
def dalle_ws(tmp_path: Path, service: FakeService) -> Iterator[Workspace]:
    pytest.importorskip("openai", reason="dalle needs the openai SDK (the remote extra)")
    openai_images(service)
    ws = workspace_for(tmp_path, openai_api_key=KEY, openai_base_url=f"{service.url}/v1")
    yield ws
    ws.close()


def upload(ws: Workspace, project: Project, image: Image.Image, op: str = "load_image") -> str:
    return project.add_layer(REGISTRY.get(op), {"asset": asset_ref(ws.data.blobs.put_image(image))}, {}).id


def image_of(ws: Workspace, project: Project, layer_id: str) -> Image.Image:
    return ws.data.blobs.get_image(project.layer(layer_id).blob)


def assert_no_secret(ws: Workspace, project: Project, *secrets: str) -> None:
    text = json.dumps(ws.export_workflow(project)) + json.dumps(project.to_dict())
    for secret in secrets:
        assert secret not in text and secret[-8:] not in text


# --- dalle ----------------------------------------------------------------------------------


def test_dalle_generates_layers_with_the_key_from_settings_only(
    dalle_ws: Workspace, service: FakeService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    project = Project.new("dalle", 256, 256)
    layer = project.add_layer(
        REGISTRY.get("dalle"),
        {"prompt": "a fox", "model": "dall-e-2", "size": "256x256", "num_images": 2},
        {},
    )
    events: list[Event] = []
    runs = dalle_ws.runner.run_pending(project, on_event=events.append)
    assert [r.outcome for r in runs] == ["computed"]
    assert [e.data["text"] for e in events if e.type == "job.status"] == ["waiting for OpenAI (dall-e-2)"]
    group = project.group(layer.id)
    assert len(group) == 2 and all(x.status == "ready" for x in group)
    assert image_of(dalle_ws, project, group[0].id).size == (256, 256)
    (request,) = service.requests
    assert request.path == "/v1/images/generations"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json() == {
        "prompt": "a fox",
        "model": "dall-e-2",
        "size": "256x256",
        "n": 2,
        "response_format": "b64_json",
    }
    assert REGISTRY.get("dalle").deterministic is False
    assert "api_key" not in REGISTRY.get("dalle").schema()["properties"]
    assert_no_secret(dalle_ws, project, KEY)
    assert KEY not in caplog.text

    # Not deterministic: replay reuses the kept result unless forced.
    for x in group:
        x.status = "stale"
    assert [r.outcome for r in dalle_ws.runner.run_pending(project)] == ["reused"]
    assert len(service.requests) == 1
    dalle_ws.runner.run_pending(project, force=True)
    assert len(service.requests) == 2


def test_dalle_edits_inside_the_mask_and_keeps_the_image_size(
    dalle_ws: Workspace, service: FakeService
) -> None:
    project = Project.new("edit", 64, 64)
    upload(dalle_ws, project, gradient(64).resize((60, 52)))
    upload(dalle_ws, project, square_mask(64), "paint_mask")
    layer = project.add_layer(
        REGISTRY.get("dalle"),
        {"prompt": "a hat", "model": "dall-e-2", "size": "256x256"},
        {"image": "L1", "mask": "L2"},
    )
    dalle_ws.runner.run_pending(project)
    assert project.layer(layer.id).status == "ready", project.layer(layer.id).run.error
    assert image_of(dalle_ws, project, layer.id).size == (60, 52)
    (request,) = service.requests
    assert request.path == "/v1/images/edits"
    form = request.form()
    assert form["model"] == b"dall-e-2" and form["size"] == b"256x256"
    mask = Image.open(io.BytesIO(form["mask"]))
    alpha = np.asarray(mask.getchannel("A"))
    assert mask.size == (256, 256) and mask.mode == "RGBA"
    # OpenAI edits where the mask is transparent: our white square (16..48 of 64) -> alpha 0.
    assert alpha[128, 128] == 0 and alpha[10, 10] == 255 and alpha[250, 250] == 255


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        ([Reply.json({"error": {"message": f"Incorrect API key provided: {KEY}"}}, 401)], "answered 401"),
        ([Reply.json({"error": {"message": "bad size"}}, 400)], "answered 400: bad size"),
        ([Reply(200, b"<html>not json</html>", "text/html")], "dalle:"),
        ([Reply.json({"data": [{"b64_json": "!!!notbase64"}]})], "unreadable image"),
        ([Reply.json({"data": []})], "no images"),
        ([Reply.json({"error": "down"}, 503)] * 3, "answered 503"),
    ],
    ids=["401-echoing-key", "400", "malformed", "bad-image", "empty", "5xx-after-retries"],
)
def test_dalle_service_errors_fail_the_layer_with_the_message_redacted(
    dalle_ws: Workspace, service: FakeService, caplog: pytest.LogCaptureFixture, replies: list, expected: str
) -> None:
    caplog.set_level(logging.DEBUG)
    service.queue(*replies)
    project = Project.new("err", 256, 256)
    layer = project.add_layer(
        REGISTRY.get("dalle"), {"prompt": "x", "model": "dall-e-2", "size": "256x256"}, {}
    )
    dalle_ws.runner.run_pending(project)
    error = project.layer(layer.id).run.error
    assert project.layer(layer.id).status == "failed" and expected in error
    assert KEY not in error and KEY[-8:] not in error and KEY not in caplog.text
    assert_no_secret(dalle_ws, project, KEY)


def test_dalle_retries_a_5xx_then_succeeds(dalle_ws: Workspace, service: FakeService) -> None:
    service.queue(Reply.json({"error": "busy"}, 500))
    project = Project.new("retry", 256, 256)
    layer = project.add_layer(
        REGISTRY.get("dalle"), {"prompt": "x", "model": "dall-e-2", "size": "256x256"}, {}
    )
    dalle_ws.runner.run_pending(project)
    assert project.layer(layer.id).status == "ready" and len(service.requests) == 2


def test_dalle_timeout_and_missing_key(tmp_path: Path, service: FakeService, monkeypatch) -> None:
    pytest.importorskip("openai", reason="dalle needs the openai SDK (the remote extra)")
    openai_images(service)
    service.queue(Reply.json({}, 200), Reply.json({}, 200))
    service.queued[0].delay = service.queued[1].delay = 1.0
    ws = workspace_for(tmp_path, openai_api_key=KEY, openai_base_url=f"{service.url}/v1")
    ws.settings.remote_timeout_s, ws.settings.remote_retries = 0.3, 0
    project = Project.new("slow", 256, 256)
    layer = project.add_layer(
        REGISTRY.get("dalle"), {"prompt": "x", "model": "dall-e-2", "size": "256x256"}, {}
    )
    ws.runner.run_pending(project)
    assert "did not answer in time" in project.layer(layer.id).run.error
    ws.close()

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    ws = workspace_for(tmp_path, openai_base_url=f"{service.url}/v1")
    project = Project.new("nokey", 256, 256)
    layer = project.add_layer(REGISTRY.get("dalle"), {"prompt": "x"}, {})
    ws.runner.run_pending(project)
    assert "OPENDREAM_OPENAI_API_KEY" in project.layer(layer.id).run.error
    ws.close()


def test_dalle_validates_model_size_and_count_before_calling() -> None:
    spec = REGISTRY.get("dalle")
    cases = [
        ({"prompt": "x", "model": "dall-e-3", "num_images": 2}, "`num_images`: dall-e-3 makes one"),
        ({"prompt": "x", "model": "dall-e-2", "size": "1792x1024"}, "`size`: dall-e-2 makes"),
    ]
    for params, message in cases:
        with pytest.raises(InvalidParams, match=message):
            spec.call(spec.validate_params(params), {"image": None, "mask": None}, None)
    with pytest.raises(InvalidParams, match="`mask`: needs an `image`"):
        from opendream import MaskLayer

        spec.call(
            spec.validate_params({"prompt": "x"}),
            {"image": None, "mask": MaskLayer(image=square_mask())},
            None,
        )
    with pytest.raises(InvalidParams, match="prompt"):
        spec.validate_params({"prompt": ""})


# --- serverless -----------------------------------------------------------------------------


def serverless_ws(
    tmp_path: Path, service: FakeService, preset: str, path: str = "", **overrides
) -> Workspace:
    return workspace_for(
        tmp_path,
        serverless_url=service.url + path,
        serverless_preset=preset,
        serverless_auth_header=f"Authorization: Bearer {TOKEN}",
        **overrides,
    )


def run_serverless(ws: Workspace, on_event: EventSink = ignore, **params) -> tuple[Project, str]:
    project = Project.new("remote", 64, 64)
    layer = project.add_layer(
        REGISTRY.get("serverless"), {"prompt": "a boat", "width": 64, "height": 72, **params}, {}
    )
    ws.runner.run_pending(project, on_event=on_event)
    return project, layer.id


def test_serverless_a1111_txt2img(tmp_path: Path, service: FakeService) -> None:
    a1111(service)
    ws = serverless_ws(tmp_path, service, "a1111")
    project, layer = run_serverless(ws, seed=7, steps=5, extra='{"sampler_name": "Euler a"}')
    assert project.layer(layer).status == "ready", project.layer(layer).run.error
    image = image_of(ws, project, layer)
    assert image.size == (64, 72) and image.getpixel((0, 0)) == (200, 20, 20)
    (request,) = service.requests
    assert request.path == "/sdapi/v1/txt2img" and request.headers["authorization"] == f"Bearer {TOKEN}"
    body = request.json()
    assert isinstance(body, dict)
    assert (
        body["seed"] == 7
        and body["steps"] == 5
        and body["cfg_scale"] == 7.5
        and body["sampler_name"] == "Euler a"
    )
    assert_no_secret(ws, project, TOKEN)
    ws.close()


def test_serverless_replicate_creates_and_polls_a_prediction(
    tmp_path: Path, service: FakeService, monkeypatch
) -> None:
    from opendream.extensions import serverless

    monkeypatch.setattr(serverless, "POLL_SECONDS", 0.01)
    replicate(service, polls=2)
    ws = serverless_ws(
        tmp_path, service, "replicate", "/v1/predictions", serverless_replicate_version="abc123"
    )
    events: list[Event] = []
    project, layer = run_serverless(ws, events.append)
    assert project.layer(layer).status == "ready", project.layer(layer).run.error
    assert image_of(ws, project, layer).getpixel((3, 3)) == (20, 20, 200)
    # the layer says how the prediction is doing while it waits
    assert [e.data["text"] for e in events if e.type == "job.status"] == [
        "Replicate: the prediction is starting",
        "Replicate: the prediction is processing",
        "Replicate: the prediction is processing",
    ]
    paths = [r.path for r in service.requests]
    assert paths == [
        "/v1/predictions",
        "/v1/predictions/p1",
        "/v1/predictions/p1",
        "/v1/predictions/p1",
        "/files/out.png",
    ]
    create = service.requests[0].json()
    assert isinstance(create, dict)
    assert create["version"] == "abc123" and create["input"]["prompt"] == "a boat"
    assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in service.requests)
    ws.close()


def test_serverless_replicate_failed_prediction(tmp_path: Path, service: FakeService) -> None:
    service.queue(Reply.json({"id": "p1", "status": "failed", "error": "NSFW content detected"}, 201))
    ws = serverless_ws(tmp_path, service, "replicate", "/v1/predictions")
    project, layer = run_serverless(ws)
    assert "the prediction failed: NSFW content detected" in project.layer(layer).run.error
    ws.close()


@pytest.mark.parametrize("mode", ["json", "image"])
def test_serverless_generic_json_or_image_answers(tmp_path: Path, service: FakeService, mode: str) -> None:
    generic(service, mode)
    ws = serverless_ws(tmp_path, service, "generic", "/generate")
    project, layer = run_serverless(ws, negative_prompt="fog")
    assert project.layer(layer).status == "ready", project.layer(layer).run.error
    assert image_of(ws, project, layer).size == (64, 72)
    body = service.requests[0].json()
    assert isinstance(body, dict)
    assert (
        body["prompt"] == "a boat" and body["negative_prompt"] == "fog" and body["num_inference_steps"] == 20
    )
    ws.close()


def test_serverless_retries_5xx_and_timeouts_with_backoff_then_succeeds(
    tmp_path: Path, service: FakeService
) -> None:
    a1111(service)
    service.queue(Reply.json({"error": "warming up"}, 503), Reply(200, b"{}", delay=1.0))
    ws = serverless_ws(tmp_path, service, "a1111", remote_retries=2)
    ws.settings.remote_timeout_s = 0.3
    project, layer = run_serverless(ws)
    assert project.layer(layer).status == "ready", project.layer(layer).run.error
    assert len(service.requests) == 3
    ws.close()


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        ([Reply.json({"detail": f"invalid token {TOKEN}"}, 401)], "answered 401: invalid token ***"),
        ([Reply.json({"error": {"message": "no such sampler"}}, 422)], "answered 422: no such sampler"),
        ([Reply.json({"error": "boom"}, 500)] * 3, "answered 500: boom (after 3 attempts)"),
        ([Reply(200, b"{not json", "application/json")], "malformed JSON"),
        ([Reply.json({"images": ["%%%"]})], "not valid base64"),
        ([Reply.json({"images": ["aGVsbG8="]})], "unreadable image"),
        ([Reply.json({"nothing": True})], "without an `images` list"),
        ([Reply(200, b"{}", delay=1.0)], "did not answer within 0.3s"),
    ],
    ids=[
        "401-echoing-token",
        "422",
        "5xx",
        "malformed",
        "bad-base64",
        "not-an-image",
        "no-images",
        "timeout",
    ],
)
def test_serverless_errors_fail_the_layer_with_the_service_message_redacted(
    tmp_path: Path, service: FakeService, caplog: pytest.LogCaptureFixture, replies: list, expected: str
) -> None:
    caplog.set_level(logging.DEBUG)
    service.queue(*replies)
    ws = serverless_ws(tmp_path, service, "a1111", remote_retries=2 if len(replies) > 1 else 0)
    ws.settings.remote_timeout_s = 0.3
    project, layer = run_serverless(ws)
    error = project.layer(layer).run.error
    assert project.layer(layer).status == "failed" and expected in error, error
    assert TOKEN not in error and TOKEN[-8:] not in error and TOKEN not in caplog.text
    ws.close()


def test_serverless_configuration_and_extra_are_checked(tmp_path: Path, service: FakeService) -> None:
    ws = workspace_for(tmp_path)
    project, layer = run_serverless(ws)
    assert "OPENDREAM_SERVERLESS_URL" in project.layer(layer).run.error
    ws.close()
    ws = workspace_for(tmp_path, serverless_url=service.url, serverless_auth_header="just-a-token")
    project, layer = run_serverless(ws)
    assert (
        '"Name: value"' in project.layer(layer).run.error
        and "just-a-token" not in project.layer(layer).run.error
    )
    ws.close()
    spec = REGISTRY.get("serverless")
    with pytest.raises(InvalidParams, match="`extra`: is not valid JSON"):
        spec.call(spec.validate_params({"prompt": "x", "extra": "{"}), {}, None)
    with pytest.raises(InvalidParams, match="`extra`: has to be a JSON object"):
        spec.call(spec.validate_params({"prompt": "x", "extra": "[1]"}), {}, None)


@pytest.mark.parametrize(
    ("preset", "extra", "refused"),
    [
        ("a1111", {"override_settings": {"outdir_txt2img_samples": "/tmp/x"}}, "override_settings"),
        ("a1111", {"script_name": "evil", "script_args": []}, "script_name"),
        ("a1111", {"prompt": "something else"}, "`prompt` is set by the op"),
        ("a1111", {"cfg_scale": 30}, "`cfg_scale` is set by the op"),
        ("a1111", {"sampler_name": {"nested": 1}}, "string, number or boolean"),
        ("a1111", {"outpath_samples": "/srv/www"}, "outpath_samples"),
        ("replicate", {"prompt": "something else"}, "`prompt` is set by the op"),
        ("generic", {"seed": 1}, "`seed` is set by the op"),
    ],
)
def test_serverless_extra_cannot_override_the_op_or_reach_a1111_settings(
    tmp_path: Path, service: FakeService, preset: str, extra: dict, refused: str
) -> None:
    """A workflow file's `extra` once set A1111's output folder, a script and the prompt itself."""
    a1111(service)
    ws = serverless_ws(tmp_path, service, preset)
    project, layer = run_serverless(ws, extra=json.dumps(extra))
    error = project.layer(layer).run.error
    assert project.layer(layer).status == "failed" and "`extra`" in error and refused in error, error
    assert service.requests == []  # refused before anything was sent
    ws.close()
