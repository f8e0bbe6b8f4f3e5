"""Call a remote text-to-image endpoint: an A1111-compatible ``/sdapi/v1/txt2img`` server,
Replicate's predictions API, or a generic JSON-in/image-out HTTP endpoint.

A bundled extension using only the public op API. The URL, preset and auth header come from
the settings (``OPENDREAM_SERVERLESS_URL``, ``..._PRESET``, ``..._AUTH_HEADER``), never from
the recipe; the auth header is redacted from every error. Requests time out
(``remote_timeout_s``); 5xx, 429, timeouts and connection errors are retried
(``remote_retries``) with exponential backoff (``remote_backoff_s``). Results come from a
remote service, so the op is not deterministic: the engine keeps them as assets."""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

import opendream
from opendream import Context, ImageLayer, InvalidParams, OpFailed, redact
from opendream.fields import TextToImage, text
from opendream.images import MAX_DOWNLOAD_BYTES, decode_image

MAX_EXTRA_CHARS = 4000
#: What ``extra`` may add to an A1111 ``txt2img`` request: generation fields only, never
#: ``override_settings`` (output folders), ``script_*`` (server-side scripts) or paths.
A1111_EXTRA_FIELDS = frozenset(
    {
        "sampler_name", "scheduler", "n_iter", "restore_faces", "tiling", "denoising_strength",
        "enable_hr", "hr_scale", "hr_upscaler", "hr_second_pass_steps", "hr_resize_x", "hr_resize_y",
        "hr_sampler_name", "hr_prompt", "hr_negative_prompt", "subseed", "subseed_strength",
        "seed_resize_from_h", "seed_resize_from_w", "eta", "s_min_uncond", "s_churn", "s_tmax",
        "s_tmin", "s_noise",
    }
)  # fmt: skip
#: The request fields the op itself sets, per preset: ``extra`` may not replace them.
OP_FIELDS = {
    "a1111": frozenset(
        {"prompt", "negative_prompt", "width", "height", "steps", "cfg_scale", "seed", "batch_size"}
    ),
    "other": frozenset(
        {"prompt", "negative_prompt", "width", "height", "num_inference_steps", "guidance_scale", "seed"}
    ),
}
Extra = text("JSON object merged into the request (model-specific inputs)", max_length=MAX_EXTRA_CHARS)
POLL_SECONDS = 1.0
RETRY_STATUSES = {429, 500, 502, 503, 504}


class RemoteError(Exception):
    """A failed exchange with the service; ``retry`` when trying again may help."""

    def __init__(self, message: str, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


def _service_message(response: Any) -> str:
    """The service's own words: ``error``/``detail``/``message`` of a JSON body, else its text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("error", "detail", "message", "errors"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message") or json.dumps(value)
            if value:
                return str(value)[:500]
    return response.text.strip()[:500] or response.reason_phrase


class Service:
    """One configured endpoint: an HTTP client with the auth header, timeouts and retries."""

    def __init__(self, settings: Any, ctx: Context | None) -> None:
        import httpx

        self.url = str(getattr(settings, "serverless_url", "") or "")
        if urlsplit(self.url).scheme not in ("http", "https"):
            raise OpFailed(
                "serverless needs an http(s) endpoint: set OPENDREAM_SERVERLESS_URL "
                f"(it is {self.url or 'not set'!r})"
            )
        self.headers: dict[str, str] = {}
        self.secrets: list[str] = []
        secret = getattr(settings, "serverless_auth_header", None)
        if secret is not None:
            name, sep, value = secret.get_secret_value().partition(":")
            if not sep or not name.strip() or not value.strip():
                raise OpFailed('OPENDREAM_SERVERLESS_AUTH_HEADER has to look like "Name: value"')
            self.headers[name.strip()] = value.strip()
            self.secrets = [value.strip(), value.strip().split(" ")[-1]]
        self.retries = int(getattr(settings, "remote_retries", 2))
        self.backoff = float(getattr(settings, "remote_backoff_s", 1.0))
        self.ctx = ctx
        self.client = httpx.Client(timeout=float(getattr(settings, "remote_timeout_s", 120.0)))

    def close(self) -> None:
        self.client.close()

    def fail(self, message: str) -> OpFailed:
        return OpFailed("serverless: " + redact(message, self.secrets))

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        """One request with retries; the auth header goes only to the configured host."""
        import httpx

        same_origin = urlsplit(url)[:2] == urlsplit(self.url)[:2]
        headers = {**(self.headers if same_origin else {}), **kwargs.pop("headers", {})}
        attempt = 0
        while True:
            if self.ctx is not None:
                self.ctx.check_cancelled()
            try:
                response = self.client.request(method, url, headers=headers, **kwargs)
                if response.status_code < 400:
                    return response
                error = RemoteError(
                    f"{url} answered {response.status_code}: {_service_message(response)}",
                    retry=response.status_code in RETRY_STATUSES,
                )
            except httpx.TimeoutException:
                error = RemoteError(f"{url} did not answer within {self.client.timeout.read}s", retry=True)
            except httpx.TransportError as exc:
                error = RemoteError(f"cannot reach {url} ({exc})", retry=True)
            if not error.retry or attempt >= self.retries:
                raise self.fail(f"{error} (after {attempt + 1} attempt{'s' if attempt else ''})")
            time.sleep(self.backoff * 2**attempt)
            attempt += 1

    def json(self, response: Any) -> Any:
        try:
            return response.json()
        except ValueError:
            raise self.fail(f"{response.url} answered with malformed JSON: {response.text[:200]!r}") from None

    def image(self, value: Any) -> Any:
        """An image from base64, a ``data:`` URI or an http(s) URL (downloaded, size-capped)."""
        if not isinstance(value, str) or not value:
            raise self.fail(f"expected an image (base64 or URL) but got {type(value).__name__}")
        if value.startswith(("http://", "https://")):
            response = self.request("GET", value)
            if len(response.content) > MAX_DOWNLOAD_BYTES:
                raise self.fail(f"image at {value} is larger than {MAX_DOWNLOAD_BYTES} bytes")
            data = response.content
        else:
            try:
                data = base64.b64decode(
                    value.split(",", 1)[1] if value.startswith("data:") else value, validate=True
                )
            except (binascii.Error, ValueError, IndexError):
                raise self.fail("the service sent an image that is not valid base64") from None
        try:
            return decode_image(data).convert("RGB")
        except Exception as exc:
            raise self.fail(f"the service sent an unreadable image ({exc})") from None


def check_extra(extra: dict[str, Any], preset: str) -> None:
    """Refuse ``extra`` fields that would replace what the op sets, and for A1111 anything but
    known generation fields with plain values: a workflow file must not redirect the server's
    output folder, run its scripts or swap the prompt the user sees."""
    errors = [
        f"`{key}` is set by the op; change the op's own parameter instead"
        for key in sorted(extra)
        if key in OP_FIELDS["a1111" if preset == "a1111" else "other"]
    ]
    if preset == "a1111":
        errors += [
            f"`{key}` is not a generation field this op passes to A1111 "
            f"(allowed: {', '.join(sorted(A1111_EXTRA_FIELDS))})"
            for key in sorted(extra)
            if key not in A1111_EXTRA_FIELDS and key not in OP_FIELDS["a1111"]
        ]
        errors += [
            f"`{key}` has to be a string, number or boolean"
            for key, value in sorted(extra.items())
            if key in A1111_EXTRA_FIELDS and not isinstance(value, str | int | float | bool)
        ]
    if errors:
        raise InvalidParams("serverless", [{"param": "extra", "message": m} for m in errors])


def _a1111(service: Service, payload: dict) -> list[Any]:
    body = {
        **payload["extra"],  # first: what the op sets wins (check_extra refuses overlaps anyway)
        "prompt": payload["prompt"],
        "negative_prompt": payload["negative_prompt"],
        "width": payload["width"],
        "height": payload["height"],
        "steps": payload["num_inference_steps"],
        "cfg_scale": payload["guidance_scale"],
        "seed": payload["seed"],
        "batch_size": 1,
    }
    url = (
        service.url
        if service.url.rstrip("/").endswith("/sdapi/v1/txt2img")
        else urljoin(service.url.rstrip("/") + "/", "sdapi/v1/txt2img")
    )
    data = service.json(service.request("POST", url, json=body))
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list) or not images:
        raise service.fail(f"{url} answered without an `images` list")
    return [service.image(image) for image in images]


def _replicate(service: Service, payload: dict, version: str | None, deadline: float) -> list[Any]:
    inputs = payload["extra"] | {k: v for k, v in payload.items() if k != "extra"}
    body: dict[str, Any] = {"input": inputs}
    if version:
        body["version"] = version
    prediction = service.json(service.request("POST", service.url, json=body))
    while True:
        if not isinstance(prediction, dict) or "status" not in prediction:
            raise service.fail("Replicate answered without a prediction `status`")
        status = prediction["status"]
        if status == "succeeded":
            break
        if status in ("failed", "canceled"):
            raise service.fail(f"the prediction {status}: {prediction.get('error') or 'no reason given'}")
        poll = (prediction.get("urls") or {}).get("get")
        if not isinstance(poll, str) or urlsplit(poll).scheme not in ("http", "https"):
            raise service.fail("Replicate answered without an http(s) `urls.get` to poll")
        if time.monotonic() > deadline:
            raise service.fail(f"the prediction was still {status!r} when the timeout ran out")
        if service.ctx is not None:
            service.ctx.status(f"Replicate: the prediction is {status}")
        time.sleep(POLL_SECONDS)
        prediction = service.json(service.request("GET", poll))
    output = prediction.get("output")
    outputs = output if isinstance(output, list) else [output]
    if not outputs or outputs == [None]:
        raise service.fail("the prediction succeeded without an `output`")
    return [service.image(item) for item in outputs]


def _generic(service: Service, payload: dict) -> list[Any]:
    body = payload["extra"] | {k: v for k, v in payload.items() if k != "extra"}
    response = service.request("POST", service.url, json=body)
    if response.headers.get("content-type", "").split(";")[0].strip().startswith("image/"):
        try:
            return [decode_image(response.content).convert("RGB")]
        except Exception as exc:
            raise service.fail(f"the service sent an unreadable image ({exc})") from None
    data = service.json(response)
    images = None
    if isinstance(data, dict):
        images = data.get("images") or ([data["image"]] if data.get("image") else None)
    if not isinstance(images, list) or not images:
        raise service.fail(f"{service.url} answered neither an image nor JSON with `image` or `images`")
    return [service.image(image) for image in images]


@opendream.op(
    version="1",
    title="Serverless",
    category="generate",
    deterministic=False,
    remote="the serverless endpoint (OPENDREAM_SERVERLESS_URL)",
)
def serverless(
    generation: TextToImage,
    extra: Extra = "",
    ctx: Context = None,
) -> list[ImageLayer]:
    """Generate with the remote endpoint configured in the settings (A1111, Replicate or generic).

    Presets (``OPENDREAM_SERVERLESS_PRESET``):

    - ``a1111``: POST ``<url>/sdapi/v1/txt2img``; reads the base64 ``images`` of the answer.
    - ``replicate``: POST ``<url>`` (a predictions endpoint) with ``{"input": ...}``, then polls
      ``urls.get`` until the prediction succeeds; ``output`` is image URLs or data URIs.
    - ``generic``: POST ``<url>`` with the parameters as JSON; the answer is an image, or JSON
      with ``image`` or ``images`` (base64, data URIs or URLs).

    Every image of the answer becomes a layer.
    """
    # 1. Check inputs before calling anything
    try:
        extra_fields = json.loads(extra) if extra.strip() else {}
    except ValueError as exc:
        raise InvalidParams(
            "serverless", [{"param": "extra", "message": f"is not valid JSON ({exc})"}]
        ) from None
    if not isinstance(extra_fields, dict):
        raise InvalidParams("serverless", [{"param": "extra", "message": "has to be a JSON object"}])
    settings = getattr(ctx, "settings", None)
    preset = getattr(settings, "serverless_preset", "a1111")
    check_extra(extra_fields, preset)
    payload = {
        **generation.model_dump(exclude={"steps"}),
        "num_inference_steps": generation.steps,
        "extra": extra_fields,
    }

    # 2. Call the service
    service = Service(settings, ctx)
    if ctx is not None:
        ctx.progress(0, 1)
    try:
        if preset == "replicate":
            deadline = time.monotonic() + float(getattr(settings, "remote_timeout_s", 120.0))
            images = _replicate(
                service, payload, getattr(settings, "serverless_replicate_version", None), deadline
            )
        elif preset == "generic":
            images = _generic(service, payload)
        else:
            images = _a1111(service, payload)
    finally:
        service.close()
    if ctx is not None:
        ctx.progress(1, 1)
    return [ImageLayer(image=image) for image in images]
