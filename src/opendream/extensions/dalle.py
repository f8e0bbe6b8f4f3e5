"""DALL-E / GPT Image through the OpenAI Images API (the ``openai`` SDK): generate from a prompt,
or edit an image layer inside a mask.

A bundled extension using only the public op API. The API key comes from the settings
(``OPENDREAM_OPENAI_API_KEY``) or the ``OPENAI_API_KEY`` environment variable, never from the
recipe, so it cannot end up in a workflow file; error messages have it redacted. Results come
from a remote service, so the op is not deterministic: the engine keeps them as assets."""

from __future__ import annotations

import base64
import os
from typing import Annotated, Any, Literal

from PIL import Image

import opendream
from opendream import Context, Field, ImageLayer, InvalidParams, MaskLayer, OpFailed, redact
from opendream.fields import Prompt
from opendream.images import decode_image, encode_png

ImageModel = Literal["dall-e-2", "dall-e-3", "gpt-image-1"]
Size = Literal["256x256", "512x512", "1024x1024", "1792x1024", "1024x1792", "1536x1024", "1024x1536"]
SIZES: dict[str, tuple[str, ...]] = {
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
    "gpt-image-1": ("1024x1024", "1536x1024", "1024x1536"),
}
MAX_IMAGES = 4


def _api_key(ctx: Context | None) -> str:
    settings = getattr(ctx, "settings", None)
    secret = getattr(settings, "openai_api_key", None)
    key = secret.get_secret_value() if secret is not None else os.environ.get("OPENAI_API_KEY", "")
    if not key:
        raise OpFailed(
            "dalle needs an OpenAI API key: set OPENDREAM_OPENAI_API_KEY (or OPENAI_API_KEY) "
            "in the server's environment"
        )
    return key


def _service_message(exc: Exception) -> str:
    """What the service said, for the layer's error (status, and its message when it sent one)."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "the OpenAI Images API did not answer in time"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot reach the OpenAI Images API ({exc.__cause__ or exc})"
    if isinstance(exc, openai.APIStatusError):
        body = exc.body
        detail = body.get("message") if isinstance(body, dict) else None
        return f"the OpenAI Images API answered {exc.status_code}: {detail or exc.message}"
    return f"the OpenAI Images API answered something unexpected ({type(exc).__name__}: {exc})"


def _png_file(image: Image.Image, name: str) -> tuple[str, bytes, str]:
    return (name, encode_png(image), "image/png")


@opendream.op(
    version="1", title="DALL-E", category="generate", deterministic=False, remote="OpenAI Images API (paid)"
)
def dalle(
    prompt: Annotated[Prompt, Field(min_length=1)],
    image: ImageLayer | None = None,
    mask: MaskLayer | None = None,
    model: ImageModel = "dall-e-3",
    size: Size = "1024x1024",
    num_images: Annotated[int, Field(ge=1, le=MAX_IMAGES, description="Each image becomes a layer")] = 1,
    ctx: Context = None,
) -> list[ImageLayer]:
    """Generate images with the OpenAI Images API, or edit ``image`` where ``mask`` is white.

    Without ``image`` it generates; with it, it edits (``dall-e-2`` or ``gpt-image-1``): the
    image and mask are resized to ``size`` for the API and the results back to the image's size.

    Args:
        prompt (`str`): what to draw (or, when editing, what the whole picture should show).
        image (`ImageLayer`, *optional*): the picture to edit.
        mask (`MaskLayer`, *optional*): white = repaint, black = keep; needs ``image``.
        model (`str`, defaults to ``dall-e-3``): ``dall-e-2``, ``dall-e-3`` or ``gpt-image-1``.
        size (`str`): one of the sizes ``model`` supports.
        num_images (`int`, defaults to 1): ``dall-e-3`` makes one per request.
    """
    # 1. Check inputs before calling anything
    errors = []
    if size not in SIZES[model]:
        errors.append({"param": "size", "message": f"{model} makes {', '.join(SIZES[model])}, not {size}"})
    if model == "dall-e-3" and num_images != 1:
        errors.append({"param": "num_images", "message": "dall-e-3 makes one image per request"})
    if mask is not None and image is None:
        errors.append({"param": "mask", "message": "needs an `image` to edit"})
    if image is not None and model == "dall-e-3":
        errors.append({"param": "image", "message": "dall-e-3 cannot edit; choose dall-e-2 or gpt-image-1"})
    if errors:
        raise InvalidParams("dalle", errors)
    key = _api_key(ctx)
    settings = getattr(ctx, "settings", None)

    # 2. Call the API (the SDK retries 429/5xx/timeouts with backoff)
    import openai

    client = openai.OpenAI(
        api_key=key,
        base_url=getattr(settings, "openai_base_url", None) or None,
        timeout=getattr(settings, "remote_timeout_s", 120.0),
        max_retries=getattr(settings, "remote_retries", 2),
    )
    # gpt-image-1 always answers base64 and refuses `response_format`.
    fmt: dict[str, Any] = {} if model == "gpt-image-1" else {"response_format": "b64_json"}
    width, height = (int(x) for x in size.split("x"))
    if ctx is not None:
        ctx.progress(0, 1)
        ctx.status(f"waiting for OpenAI ({model})")
    try:
        if image is None:
            response = client.images.generate(prompt=prompt, model=model, size=size, n=num_images, **fmt)
        else:
            picture = image.get_image().convert("RGBA").resize((width, height), Image.Resampling.LANCZOS)
            extra: dict[str, Any] = {}
            if mask is not None:
                # OpenAI edits where the mask is transparent; ours repaints where it is white.
                keep = mask.get_image().convert("L").resize((width, height), Image.Resampling.BILINEAR)
                alpha = keep.point(lambda v: 255 - v)
                masked = picture.copy()
                masked.putalpha(alpha)
                extra["mask"] = _png_file(masked, "mask.png")
            response = client.images.edit(
                image=_png_file(picture, "image.png"),
                prompt=prompt,
                model=model,
                size=size,
                n=num_images,
                **fmt,
                **extra,
            )
    except openai.OpenAIError as exc:
        raise OpFailed("dalle: " + redact(_service_message(exc), [key])) from None
    finally:
        client.close()

    # 3. Decode: every image becomes a layer (edits at the input's size)
    items = getattr(response, "data", None)
    if not isinstance(items, list):  # the SDK hands back the raw text of a non-JSON body
        raise OpFailed("dalle: the OpenAI Images API answered something that is not an Images response")
    layers = []
    for item in items:
        if not getattr(item, "b64_json", None):
            raise OpFailed("dalle: the OpenAI Images API answered without image data")
        try:
            result = decode_image(base64.b64decode(item.b64_json, validate=True)).convert("RGB")
        except Exception as exc:
            raise OpFailed(
                "dalle: " + redact(f"the OpenAI Images API sent an unreadable image ({exc})", [key])
            ) from None
        if image is not None:
            result = result.resize(image.get_image().size, Image.Resampling.LANCZOS)
        layers.append(ImageLayer(image=result))
    if not layers:
        raise OpFailed("dalle: the OpenAI Images API answered with no images")
    if ctx is not None:
        ctx.progress(1, 1)
    return layers
