"""Keep the libraries' terminal output that does not concern a user out of the CLI and the
server log: Opendream reports loading and download progress itself (layer and job events, the
CLI's bar), and the torchvision notice is about a backend Opendream never uses."""

from __future__ import annotations

import logging

# (logger, text) of notices that are noise here. transformers falls back to its PIL image
# processors without torchvision, which is what Opendream wants; diffusers warns about casting
# a model "with modules to keep in float32: []" (none) when a pipeline is derived in the dtype
# its base already has, and about the ``block_out_channels`` the tiny autoencoders' configs
# (taesd's among them) carry for older diffusers.
_NOISE = (
    ("transformers.utils.import_utils", "requires torchvision (not installed)"),
    ("diffusers.models.modeling_utils", "that should be kept in float32: []."),
    ("diffusers.configuration_utils", "were passed to AutoencoderTiny, but are not expected"),
)


class _DropNotice(logging.Filter):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


def drop_library_notices() -> None:
    """Filter the notices out (idempotent; stdlib only, so cheap before torch is imported)."""
    for name, text in _NOISE:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropNotice) and f.text == text for f in logger.filters):
            logger.addFilter(_DropNotice(text))


def silence_progress_bars() -> None:
    """Turn off the libraries' own terminal bars (imports them: call when loading models)."""
    import diffusers.utils.logging
    import huggingface_hub.utils
    import transformers.utils.logging

    drop_library_notices()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    huggingface_hub.utils.disable_progress_bars()
