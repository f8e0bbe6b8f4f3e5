"""``Context``: what the engine hands an op at run time (progress, cancel, seeds, device, models)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opendream.core.errors import Cancelled

if TYPE_CHECKING:
    from PIL import Image

ProgressCallback = Callable[[int, int, "Image.Image | None"], None]
DownloadCallback = Callable[[int, int], None]
StatusCallback = Callable[[str], None]


class Context:
    """Injected into an op through a parameter annotated ``Context`` (conventionally ``ctx``).

    Attributes:
        device (`str`): where tensors should live (``cuda``, ``mps`` or ``cpu``).
        dtype (`str`): ``float16`` on CUDA, ``float32`` elsewhere.
        models: the model manager (``None`` when the diffusion extra is not installed).
        settings: the application settings.
        log (`logging.Logger`): a logger named after the op.
        environment (`dict`): what this run used that its layers record beside the runtime's
            versions, e.g. ``{"models": {"dream": {"family": "sdxl", ...}}}``.
    """

    def __init__(
        self,
        *,
        op_name: str = "op",
        device: str = "cpu",
        dtype: str = "float32",
        models: Any = None,
        settings: Any = None,
        on_progress: ProgressCallback | None = None,
        cancel_event: threading.Event | None = None,
        load_asset: Callable[[str], Image.Image] | None = None,
        on_download: DownloadCallback | None = None,
        on_status: StatusCallback | None = None,
    ) -> None:
        self.op_name = op_name
        self.device = device
        self.dtype = dtype
        self.models = models
        self.settings = settings
        self.log = logging.getLogger(f"opendream.op.{op_name}")
        self._on_progress = on_progress
        self._cancel_event = cancel_event or threading.Event()
        self._load_asset = load_asset
        self._on_download = on_download
        self._on_status = on_status
        self._downloaded_logged = 0
        self.environment: dict[str, Any] = {}

    @property
    def cancelled(self) -> bool:
        return self._cancel_event.is_set()

    def cancel(self) -> None:
        self._cancel_event.set()

    def check_cancelled(self) -> None:
        """Raise ``Cancelled`` if the job was cancelled; call it between steps."""
        if self._cancel_event.is_set():
            raise Cancelled(f"{self.op_name} was cancelled")

    def progress(self, step: int, total: int, preview: Image.Image | None = None) -> None:
        """Report ``step`` of ``total`` (and optionally a small preview image)."""
        if self._on_progress is not None:
            self._on_progress(step, total, preview)

    def download_progress(self, done_bytes: int, total_bytes: int) -> None:
        """Report a model download (``total_bytes`` is 0 when unknown); logged when nobody listens.
        Raises ``Cancelled`` when the job was cancelled, so a cancel stops waiting for the download:
        pass it as the ``progress`` of ``ctx.models.get``."""
        if self._on_download is not None:
            self._on_download(done_bytes, total_bytes)
        elif done_bytes - self._downloaded_logged >= 50 * 2**20:
            self._downloaded_logged = done_bytes
            self.log.info("downloading model: %.0f MB", done_bytes / 2**20)
        self.check_cancelled()

    def status(self, text: str) -> None:
        """Say what the op is doing before its first step, e.g. ``"loading model X"``: the UI shows
        it on the layer until progress arrives. Raises ``Cancelled`` once the job is cancelled."""
        if self._on_status is not None:
            self._on_status(text)
        else:
            self.log.info("%s", text)
        self.check_cancelled()

    def load_asset(self, ref: str) -> Image.Image:
        """The picture stored under an asset reference (``sha256:<hex>``), for source ops."""
        if self._load_asset is None:
            raise RuntimeError("this context has no asset store")
        return self._load_asset(ref)

    def generator(self, seed: int) -> Any:
        """A seeded CPU ``torch.Generator``: CPU generators give the same noise on every device."""
        import torch

        return torch.Generator(device="cpu").manual_seed(int(seed))
