"""Application settings (pydantic-settings; environment prefix ``OPENDREAM_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr
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
    backend: Literal["auto", "torch", "openvino"] = Field(
        "auto",
        description="What runs SD 1.x/2.x and SDXL models on the CPU: auto = OpenVINO when installed, else torch",
    )
    warm_start: bool = Field(
        True,
        description="When the server starts, import the diffusion libraries in the background, so that the "
        "first generation does not wait for them",
    )
    offload: Literal["auto", "none", "model", "sequential"] = Field(
        "auto",
        description="Offload a model's weights to the computer's memory on a GPU: auto = only a model bigger "
        "than the budget; model = a model at a time; sequential = a layer at a time (slowest, least memory)",
    )
    model_dirs: list[Path] = Field(
        default_factory=list,
        description="Folders a workflow file may name models in (besides <data dir>/models and the HF cache)",
    )
    allow_pickle_checkpoints: bool = Field(False, description="Load .ckpt/.bin pickle files (runs code!)")
    dream_model: str = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    inpaint_model: str = "stable-diffusion-v1-5/stable-diffusion-inpainting"
    pix2pix_model: str = "timbrooks/instruct-pix2pix"
    #: The ``edit`` op's: an instruction-editing model (Flux.2 Klein 4B: Apache 2.0, ~13 GB).
    edit_model: str = "black-forest-labs/FLUX.2-klein-4B"
    controlnet_canny_model: str = "lllyasviel/sd-controlnet-canny"
    controlnet_openpose_model: str = "lllyasviel/sd-controlnet-openpose"

    executor: Literal["local", "ray"] = Field(
        "local",
        description="Where ops run: local = in the server's process; ray = on a Ray cluster's workers",
    )
    ray_address: str | None = Field(
        None,
        pattern=r"^(auto|local|(ray://)?[^\s/:]+:\d{1,5})$",
        description="The Ray cluster: auto (the one this machine is part of), host:port (its head), or "
        "ray://host:port (its Ray Client server, from outside the cluster); unset = start a local Ray",
    )
    ray_workers: int = Field(
        0,
        ge=0,
        le=1024,
        description="Ray workers (actors); 0 = one per GPU of the cluster, or 1 without GPUs",
    )

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    api_docs: bool = Field(
        False, description="Serve Swagger UI at /api/docs (it loads its script from a CDN)"
    )
    vae_tiling_pixels: int = Field(
        1536 * 1536,
        ge=0,
        description="Decode pictures of more pixels than this tile by tile (less memory, seams blended); 0 = never",
    )
    pixel_budget: int = Field(
        2**30,
        ge=1,
        description="Most decoded pixels one export or op run may cost, summed over the images it reads",
    )
    allow_url_install: bool = False
    extension_max_bytes: int = Field(
        1024 * 1024, ge=1, le=64 * 1024 * 1024, description="Largest extension file a URL install downloads"
    )
    extension_download_timeout_s: float = Field(
        30.0, gt=0, le=600, description="Time limit of one URL install download"
    )

    # Bundled extensions. Secrets are SecretStr: they never reach a workflow, a log or an error.
    openai_api_key: SecretStr | None = Field(
        None, description="OpenAI API key for the dalle op (else the OPENAI_API_KEY environment variable)"
    )
    openai_base_url: str | None = Field(None, description="OpenAI-compatible API base URL; empty = OpenAI")
    serverless_url: str | None = Field(None, description="Endpoint of the serverless op")
    serverless_preset: Literal["a1111", "replicate", "generic"] = Field(
        "a1111", description="What the serverless endpoint speaks"
    )
    serverless_auth_header: SecretStr | None = Field(
        None, description='Sent to the serverless endpoint, e.g. "Authorization: Bearer <token>"'
    )
    serverless_replicate_version: str | None = Field(
        None, description="Replicate model version id (not needed for a /v1/models/<owner>/<name> URL)"
    )
    remote_timeout_s: float = Field(120.0, gt=0, le=3600, description="Timeout of one remote request")
    remote_retries: int = Field(2, ge=0, le=10, description="Retries after a 5xx, a 429 or a timeout")
    remote_backoff_s: float = Field(1.0, ge=0, le=60, description="First retry delay; doubles each retry")
    sam_model: str = Field("facebook/sam-vit-base", description="Segment Anything: hub repo id or folder")

    @property
    def extensions_dir(self) -> Path:
        return self.data_dir / "extensions"


class ExtensionSettings(BaseSettings):
    """The settings of one extension, each field read from ``OPENDREAM_<EXTENSION>_<FIELD>``:

        class AcmeSettings(opendream.ExtensionSettings, extension="acme"):
            api_key: SecretStr = SecretStr("")  # OPENDREAM_ACME_API_KEY; never shown

        key = AcmeSettings().api_key.get_secret_value()

    Declare secrets as ``SecretStr``: listings, logs and errors show ``**********``."""

    model_config = SettingsConfigDict(extra="ignore")

    def __init_subclass__(cls, extension: str = "", **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if extension:
            if not extension.isidentifier():
                raise ValueError(f"extension settings: {extension!r} is not a Python identifier")
            cls.model_config = SettingsConfigDict(
                env_prefix=f"OPENDREAM_{extension.upper()}_", extra="ignore"
            )
