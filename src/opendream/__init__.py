"""Opendream: layered, non-destructive image generation and editing with diffusion models.

The public API for writing ops (extensions). Importing it never imports torch. Besides what
this module exports, extensions may use ``opendream.fields`` (shared parameter types),
``opendream.pipelines`` (running a diffusers pipeline with progress, previews and cancel),
``opendream.images`` and ``opendream.secrets``; see ``docs/extensions.md``."""

from pydantic import Field as Field

from opendream.core.context import Context as Context
from opendream.core.errors import Cancelled as Cancelled
from opendream.core.errors import InvalidParams as InvalidParams
from opendream.core.errors import ModelUnavailable as ModelUnavailable
from opendream.core.errors import OpendreamError as OpendreamError
from opendream.core.errors import OpFailed as OpFailed
from opendream.core.layer import ImageLayer as ImageLayer
from opendream.core.layer import Layer as Layer
from opendream.core.layer import MaskLayer as MaskLayer
from opendream.core.registry import define_op as define_op
from opendream.core.registry import op as op
from opendream.secrets import redact as redact
from opendream.settings import ExtensionSettings as ExtensionSettings

__version__ = "0.1.0"

__all__ = [
    "Cancelled",
    "Context",
    "ExtensionSettings",
    "Field",
    "ImageLayer",
    "InvalidParams",
    "Layer",
    "MaskLayer",
    "ModelUnavailable",
    "OpFailed",
    "OpendreamError",
    "__version__",
    "define_op",
    "op",
    "redact",
]
