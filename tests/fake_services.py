"""Real HTTP servers on 127.0.0.1 that speak the APIs the remote extensions call: the OpenAI
Images API, an A1111 ``/sdapi/v1/txt2img`` server, Replicate-style predictions, a generic
JSON-in/image-out endpoint, plain file serving (for install-from-URL), and the part of the
Hugging Face hub protocol that model downloads use.

Every server records the requests it got and can be scripted to misbehave: ``queue()`` replies
that are served first, whatever the route (a status, a malformed body, a delay)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from PIL import Image


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)

    def form(self) -> dict[str, bytes]:
        """The fields of a ``multipart/form-data`` body (values as bytes)."""
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {self.headers['content-type']}\r\n\r\n".encode() + self.body
        )
        return {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
                for part in message.iter_parts()}  # fmt: skip


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    delay: float = 0.0
    send_length: bool = True  # False: no Content-Length; the body ends when the connection closes
    headers: dict[str, str] = field(default_factory=dict)
    chunk_delay: float = 0.0  # seconds between 64 KiB chunks of the body (a slow download)

    @classmethod
    def json(cls, data: object, status: int = 200) -> Reply:
        return cls(status, json.dumps(data).encode())


Handler = Callable[[Request], Reply]


@dataclass
class FakeService:
    """A threaded HTTP server on an ephemeral loopback port."""

    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    queued: list[Reply] = field(default_factory=list)
    url: str = ""
    #: answers what no exact route matches (a service with path parameters routes itself)
    fallback: Handler | None = None

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def queue(self, *replies: Reply) -> None:
        self.queued.extend(replies)

    def handle(self, request: Request) -> Reply:
        self.requests.append(request)
        if self.queued:
            return self.queued.pop(0)
        handler = self.routes.get((request.method, request.path.split("?")[0])) or self.fallback
        if handler is None:
            return Reply.json({"error": f"no route {request.method} {request.path}"}, 404)
        return handler(request)


def png_b64(color: tuple[int, int, int], size: tuple[int, int]) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@contextmanager
def serve(service: FakeService) -> Iterator[FakeService]:
    class _Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            request = Request(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length),
            )
            reply = service.handle(request)
            if reply.delay:
                time.sleep(reply.delay)
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                if reply.send_length:
                    self.send_header("Content-Length", str(len(reply.body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command == "HEAD":
                    return
                step = 1 << 16 if reply.chunk_delay else max(len(reply.body), 1)
                for start in range(0, len(reply.body), step):
                    self.wfile.write(reply.body[start : start + step])
                    time.sleep(reply.chunk_delay)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                pass

        do_GET = do_POST = do_HEAD = _any

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()


# --- the APIs -----------------------------------------------------------------------------


def openai_images(service: FakeService, color: tuple[int, int, int] = (10, 200, 30)) -> FakeService:
    """``POST /v1/images/generations`` (JSON) and ``/v1/images/edits`` (multipart), answering
    ``n`` PNGs of the requested ``size`` in ``b64_json``; 401 without ``Bearer`` auth."""

    def answer(request: Request, fields: dict) -> Reply:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return Reply.json({"error": {"message": "You didn't provide an API key."}}, 401)
        width, height = (int(x) for x in str(fields.get("size", "1024x1024")).split("x"))
        images = [{"b64_json": png_b64(color, (width, height))} for _ in range(int(fields.get("n", 1)))]
        return Reply.json({"created": 0, "data": images})

    def edits(request: Request) -> Reply:
        form = request.form()
        return answer(request, {k: v.decode() for k, v in form.items() if k in ("size", "n")})

    service.route("POST", "/v1/images/generations", lambda r: answer(r, r.json()))  # type: ignore[arg-type]
    service.route("POST", "/v1/images/edits", edits)
    return service


def a1111(service: FakeService, color: tuple[int, int, int] = (200, 20, 20)) -> FakeService:
    def txt2img(request: Request) -> Reply:
        body = request.json()
        assert isinstance(body, dict)
        images = [png_b64(color, (body["width"], body["height"])) for _ in range(body.get("batch_size", 1))]
        return Reply.json({"images": images, "parameters": body, "info": "{}"})

    service.route("POST", "/sdapi/v1/txt2img", txt2img)
    return service


def replicate(
    service: FakeService, polls: int = 2, color: tuple[int, int, int] = (20, 20, 200)
) -> FakeService:
    """``POST /v1/predictions`` starts a prediction; ``GET /v1/predictions/p1`` answers
    ``processing`` ``polls`` times, then ``succeeded`` with an output URL served by this server."""
    state = {"polls": 0, "size": (64, 64)}

    def prediction(status: str) -> dict:
        answer: dict = {"id": "p1", "status": status, "urls": {"get": f"{service.url}/v1/predictions/p1"}}
        if status == "succeeded":
            answer["output"] = [f"{service.url}/files/out.png"]
        return answer

    def create(request: Request) -> Reply:
        body = request.json()
        assert isinstance(body, dict)
        state["size"] = (body["input"]["width"], body["input"]["height"])
        return Reply.json(prediction("starting"), 201)

    def get(request: Request) -> Reply:
        state["polls"] += 1
        return Reply.json(prediction("succeeded" if state["polls"] > polls else "processing"))

    def file(request: Request) -> Reply:
        return Reply(200, base64.b64decode(png_b64(color, state["size"])), "image/png")  # type: ignore[arg-type]

    service.route("POST", "/v1/predictions", create)
    service.route("GET", "/v1/predictions/p1", get)
    service.route("GET", "/files/out.png", file)
    return service


def generic(service: FakeService, mode: str = "json", color: tuple[int, int, int] = (9, 9, 9)) -> FakeService:
    """``POST /generate``: answers a PNG (``mode="image"``) or ``{"image": <base64>}``."""

    def generate(request: Request) -> Reply:
        body = request.json()
        assert isinstance(body, dict)
        data = png_b64(color, (body["width"], body["height"]))
        if mode == "image":
            return Reply(200, base64.b64decode(data), "image/png")
        return Reply.json({"image": f"data:image/png;base64,{data}"})

    service.route("POST", "/generate", generate)
    return service


def files(service: FakeService, served: dict[str, tuple[bytes, str]]) -> FakeService:
    """``GET <path>`` answers ``served[path]`` = (body, content type)."""
    for path, (body, content_type) in served.items():
        service.route("GET", path, lambda r, b=body, t=content_type: Reply(200, b, t))
    return service


@dataclass
class HubRepo:
    """A model repository served from a local folder at one commit."""

    folder: Path
    sha: str = "0123456789abcdef0123456789abcdef01234567"
    gated: bool = False

    def files(self) -> dict[str, Path]:
        return {
            p.relative_to(self.folder).as_posix(): p
            for p in sorted(self.folder.rglob("*"))
            if p.is_file() and not p.name.startswith(".")
        }


def hf_hub(service: FakeService, repos: dict[str, HubRepo], chunk_delay: float = 0.0) -> FakeService:
    """The Hugging Face hub endpoints ``huggingface_hub`` downloads with: repo info
    (``/api/models/<id>[/revision/<rev>]``), the recursive tree listing
    (``/api/models/<id>/tree/<rev>``) and file resolution (``HEAD``/``GET
    /<id>/resolve/<rev>/<path>``, with ``X-Repo-Commit`` and ``ETag``). Unknown repos answer 404
    ``RepoNotFound``, unknown revisions ``RevisionNotFound``, gated repos 401 ``GatedRepo``, as
    the hub does. Safetensors files are LFS files (their ETag is their sha256)."""

    def error(status: int, code: str, message: str) -> Reply:
        return Reply(
            status,
            json.dumps({"error": message}).encode(),
            headers={"X-Error-Code": code, "X-Error-Message": message},
        )

    def etag(path: Path) -> str:
        data = path.read_bytes()
        if path.suffix == ".safetensors":
            return hashlib.sha256(data).hexdigest()
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

    def tree_entry(name: str, path: Path) -> dict:
        size = path.stat().st_size
        entry: dict = {"type": "file", "path": name, "size": size, "oid": etag(path)}
        if path.suffix == ".safetensors":
            entry["lfs"] = {"oid": etag(path), "size": size, "pointerSize": 134}
        return entry

    def handle(request: Request) -> Reply:
        path = request.path.split("?")[0]
        api = path.startswith("/api/models/")
        parts = path.removeprefix("/api/models/" if api else "/").split("/")
        repo_id = "/".join(parts[:2])
        repo = repos.get(repo_id)
        if repo is None:
            return error(404, "RepoNotFound", f"Repository Not Found for url: {service.url}{path}.")
        if repo.gated:
            return error(
                401, "GatedRepo", f"Access to model {repo_id} is restricted. You must have access to it."
            )
        rest = parts[2:]
        revision = rest[1] if len(rest) >= 2 else "main"
        if revision not in ("main", repo.sha):
            return error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        files = repo.files()
        if api and rest[:1] in ([], ["revision"]):
            siblings = [{"rfilename": name} for name in files]
            return Reply.json({"id": repo_id, "modelId": repo_id, "sha": repo.sha, "private": False,
                               "gated": False, "tags": [], "siblings": siblings})  # fmt: skip
        if api and rest[:1] == ["tree"]:
            return Reply.json([tree_entry(name, file) for name, file in files.items()])
        if not api and rest[:1] == ["resolve"]:
            name = "/".join(rest[2:])
            if name not in files:
                return error(404, "EntryNotFound", f"{name} does not exist on {revision}")
            headers = {"X-Repo-Commit": repo.sha, "ETag": f'"{etag(files[name])}"'}
            return Reply(
                200,
                files[name].read_bytes(),
                "application/octet-stream",
                headers=headers,
                chunk_delay=chunk_delay,
            )
        return error(404, "EntryNotFound", f"no route {request.method} {path}")

    service.fallback = handle
    return service


def use_hub(monkeypatch: Any, url: str, cache: Path) -> None:
    """Point ``huggingface_hub`` at the hub at ``url`` and at an empty cache folder, online:
    what ``HF_ENDPOINT`` and ``HF_HUB_CACHE`` do when set before its first import."""
    from huggingface_hub import constants, hf_api

    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(hf_api.api, "endpoint", url)  # the module-level client diffusers calls
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
