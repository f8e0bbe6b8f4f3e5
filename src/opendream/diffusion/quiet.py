"""Keep the libraries' terminal output that does not concern a user out of the CLI and the
server log: Opendream reports loading and download progress itself (layer and job events, the
CLI's bar), and the torchvision notice is about a backend Opendream never uses."""

from __future__ import annotations

import logging

# transformers falls back to its PIL image processors without torchvision, which is what
# Opendream wants; the notice is only noise.
_TORCHVISION_NOTICE = "requires torchvision (not installed)"


class _DropTorchvisionNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return _TORCHVISION_NOTICE not in record.getMessage()


def drop_library_notices() -> None:
    """Filter the notices out (idempotent; stdlib only, so cheap before torch is imported)."""
    logger = logging.getLogger("transformers.utils.import_utils")
    if not any(isinstance(f, _DropTorchvisionNotice) for f in logger.filters):
        logger.addFilter(_DropTorchvisionNotice())


def silence_progress_bars() -> None:
    """Turn off the libraries' own terminal bars (imports them: call when loading models)."""
    import diffusers.utils.logging
    import huggingface_hub.utils
    import transformers.utils.logging

    drop_library_notices()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    huggingface_hub.utils.disable_progress_bars()
