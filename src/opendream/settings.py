"""Application settings (pydantic-settings; environment prefix ``OPENDREAM_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("opendream", appauthor=False))


class Settings(BaseSettings):
    """Everything configurable. Every field can be set as ``OPENDREAM_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="OPENDREAM_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir, description="Database, blobs and extensions")
    extension_dirs: list[Path] = Field(default_factory=list, description="Extra extension folders")

    device: Literal["auto", "cuda", "mps", "cpu"] = "auto"
    tiny_models: bool = Field(False, description="Point every default model at tiny random-weight models")
    tiny_models_dir: Path | None = Field(
        None, description="Where tiny models are built (default: <data dir>/tiny-models)"
    )
    model_memory_budget_mb: int = Field(0, ge=0, description="Model manager budget; 0 = automatic")
    allow_pickle_checkpoints: bool = Field(False, description="Load .ckpt/.bin pickle files (runs code!)")
    dream_model: str = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    inpaint_model: str = "stable-diffusion-v1-5/stable-diffusion-inpainting"
    pix2pix_model: str = "timbrooks/instruct-pix2pix"
    controlnet_canny_model: str = "lllyasviel/sd-controlnet-canny"
    controlnet_openpose_model: str = "lllyasviel/sd-controlnet-openpose"

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    allow_url_install: bool = False

    @property
    def extensions_dir(self) -> Path:
        return self.data_dir / "extensions"
