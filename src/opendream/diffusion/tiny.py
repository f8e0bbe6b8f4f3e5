"""Tiny random-weight diffusers pipelines for offline tests, benchmarks and ``--tiny-models``.

They are built with the real ``save_pretrained`` code and loaded with the real
``from_pretrained`` code, so every loading and running path is exercised; they make noise,
not pictures. Builds are seeded (``torch.manual_seed``), so two builds hold identical weights.

Each model lives in ``<cache>/<kind>/`` with a marker file recording the build version and a
content hash. A build happens in a temporary folder under a file lock and is renamed into
place, so concurrent processes never see a half-written model; a folder whose marker is
missing or does not match its files is rebuilt."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from opendream.diffusion.model_sources import TINY_MARKER
from opendream.diffusion.quiet import silence_progress_bars
from opendream.models import tiny_models_dir

TinyKind = Literal["txt2img", "inpaint", "pix2pix", "controlnet"]
TINY_KINDS: tuple[TinyKind, ...] = ("txt2img", "inpaint", "pix2pix", "controlnet")
# 4: SD's 8x VAE and low-resolution attention; 5: the VAE's mid attention back;
# 6: a ControlNet conditioning embedding half as wide (it cost as much as the UNet at 512)
TINY_VERSION = 6
FULL_VERSION = 3  # build_full_size's models, versioned apart so tiny changes keep their 4 GB
_UNET_IN_CHANNELS = {"txt2img": 4, "inpaint": 9, "pix2pix": 8, "controlnet": 4}
_PIPELINE_CLASS = {
    "txt2img": "StableDiffusionPipeline",
    "inpaint": "StableDiffusionInpaintPipeline",
    "pix2pix": "StableDiffusionInstructPix2PixPipeline",
}
_SEEDS = {"txt2img": 0, "inpaint": 1, "pix2pix": 2, "controlnet": 3}


def write_byte_level_tokenizer(folder: Path) -> int:
    """Write a minimal valid CLIP tokenizer (the 256 byte-level symbols, the same with ``</w>``,
    and the two special tokens; no merges). Returns the vocabulary size (514)."""
    # The GPT-2 / CLIP bytes_to_unicode table.
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = [], 0
    for b in range(256):
        if b in printable:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    tokens = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(
        json.dumps({t: i for i, t in enumerate(tokens)}, ensure_ascii=False), "utf-8"
    )
    (folder / "merges.txt").write_text("#version: 0.2\n", "utf-8")
    return len(tokens)


def clip_text_components(
    folder: Path,
    *,
    hidden: int,
    layers: int,
    heads: int,
    intermediate: int,
    projection_dim: int | None = None,
) -> tuple[Any, Any]:
    """A CLIP text encoder (with a text projection of ``projection_dim`` when given, as SDXL's
    second and SD3's encoders) and the byte-level tokenizer; ``folder`` holds scratch files."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    vocab_dir = folder / "_tokenizer_src"
    vocab_size = write_byte_level_tokenizer(vocab_dir)
    tokenizer = CLIPTokenizer(
        str(vocab_dir / "vocab.json"), str(vocab_dir / "merges.txt"), model_max_length=77
    )
    shutil.rmtree(vocab_dir)
    config = CLIPTextConfig(
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        max_position_embeddings=77,
        vocab_size=vocab_size,
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
        projection_dim=projection_dim or 512,
    )
    model_cls = CLIPTextModel if projection_dim is None else CLIPTextModelWithProjection
    return model_cls(config).eval(), tokenizer


def sd_scheduler() -> Any:
    from diffusers import EulerDiscreteScheduler

    # SD 1.x's schedule (as in its scheduler_config.json; SDXL's is the same).
    return EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="leading",
    )


def tiny_unet(in_channels: int = 4, **config: Any) -> Any:
    """SD's UNet at a fraction of its width; ``config`` adds to or overrides its config (SDXL's
    wider cross-attention and text-time embedding)."""
    from diffusers import UNet2DConditionModel

    # SD's layout at a fraction of its width: the latent is halved twice, and attention runs
    # only at the lowest level (1/32 of the image side), so its cost stays small at 1024 px.
    defaults = dict(
        sample_size=64,  # 512 px through the 8x VAE, as SD 1.x
        in_channels=in_channels,
        out_channels=4,
        block_out_channels=(32, 32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=32,
    )
    return UNet2DConditionModel(**(defaults | config))


def tiny_vae(latent_channels: int = 4, **config: Any) -> Any:
    """SD's 8x VAE at a fraction of its width; ``config`` adds to or overrides its config
    (SD3's and Flux's VAEs: 16 latent channels, a shift factor, no quant convolutions)."""
    from diffusers import AutoencoderKL

    # Four levels, so the latent is 1/8 of the image side as in SD; narrow at full resolution,
    # where every convolution is the costliest. SD's mid-block attention stays: single-file
    # (LDM-layout) checkpoints always carry it, and diffusers' converter expects it.
    defaults = dict(
        block_out_channels=(8, 16, 32, 32),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=latent_channels,
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=512,
    )
    return AutoencoderKL(**(defaults | config))


def _save_pipeline(kind: str, components: dict[str, Any], folder: Path) -> None:
    import diffusers

    cls = getattr(diffusers, _PIPELINE_CLASS[kind])
    pipe = cls(**components, safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)


def _build_tiny(kind: TinyKind, folder: Path) -> None:
    import torch

    silence_progress_bars()
    torch.manual_seed(_SEEDS[kind])
    if kind == "controlnet":
        from diffusers import ControlNetModel

        unet = tiny_unet(4)
        # Four levels: the control image is brought down 8x to the latent's size, as in SD; narrow
        # at full resolution, where each channel costs the most.
        controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(4, 8, 16, 32))
        # A fresh ControlNet's output convolutions are zero, so the control image would change
        # nothing; random ones make --tiny-models runs (and tests) respond to it.
        with torch.no_grad():
            for name, param in controlnet.named_parameters():
                if name.startswith(
                    ("controlnet_down_blocks", "controlnet_mid_block", "controlnet_cond_embedding.conv_out")
                ):
                    param.normal_(0, 0.5)
        controlnet.save_pretrained(folder, safe_serialization=True)
        return
    unet = tiny_unet(_UNET_IN_CHANNELS[kind])
    vae = tiny_vae()
    text_encoder, tokenizer = clip_text_components(folder, hidden=32, layers=2, heads=4, intermediate=37)
    components = {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "scheduler": sd_scheduler(),
    }
    _save_pipeline(kind, components, folder)


def _content_hash(folder: Path) -> tuple[str, dict[str, int]]:
    digest = hashlib.sha256()
    sizes: dict[str, int] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != TINY_MARKER):
        rel = path.relative_to(folder).as_posix()
        data = path.read_bytes()
        sizes[rel] = len(data)
        digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest(), sizes


def _build_in_place(folder: Path, build: Callable[[Path], dict]) -> None:
    """Run ``build`` into a temp folder beside ``folder``, write the marker it returns, then
    rename the result into place, so a reader never sees a half-built model."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        marker = build(tmp)
        (tmp / TINY_MARKER).write_text(json.dumps(marker, indent=1), "utf-8")
        tmp.chmod(0o755)
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _is_valid(folder: Path, kind: str, version: int = TINY_VERSION) -> bool:
    marker = folder / TINY_MARKER
    try:
        data = json.loads(marker.read_text("utf-8"))
    except (OSError, ValueError):
        return False
    if data.get("version") != version or data.get("kind") != kind:
        return False
    files = data.get("files")
    if not isinstance(files, dict) or not files:
        return False
    try:
        return all((folder / rel).stat().st_size == size for rel, size in files.items())
    except OSError:
        return False


def ensure_built(cache: Path, name: str, version: int, build: Callable[[Path], None]) -> Path:
    """Return ``<cache>/<name>/`` after running ``build`` into it unless a valid build of
    ``version`` is there, recording its content hash in the marker.

    Safe to call from several processes at once (a file lock serialises builds, and a build
    is renamed into place only when complete)."""
    folder = cache / name
    if _is_valid(folder, name, version):
        return folder
    from filelock import FileLock

    cache.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache / f".{name}.lock"), timeout=600):
        if _is_valid(folder, name, version):  # another process built it while we waited
            return folder

        def build_marked(tmp: Path) -> dict:
            build(tmp)
            fingerprint, files = _content_hash(tmp)
            return {"version": version, "kind": name, "fingerprint": fingerprint, "files": files}

        _build_in_place(folder, build_marked)
    return folder


def ensure_tiny_model(kind: TinyKind, cache_dir: Path | str | None = None) -> Path:
    """Build the tiny ``kind`` model into ``cache_dir`` unless a valid one is there; return its
    folder (see ``ensure_built``)."""
    if kind not in TINY_KINDS:
        raise ValueError(f"`kind` has to be one of {', '.join(TINY_KINDS)} but is {kind!r}")
    cache = Path(cache_dir) if cache_dir is not None else tiny_models_dir()
    return ensure_built(cache, kind, TINY_VERSION, lambda tmp: _build_tiny(kind, tmp))


def ensure_tiny_models(
    cache_dir: Path | str | None = None, kinds: tuple[TinyKind, ...] = TINY_KINDS
) -> dict[str, Path]:
    """Build every tiny model in ``kinds`` (see ``ensure_tiny_model``); ``{kind: folder}``."""
    return {kind: ensure_tiny_model(kind, cache_dir) for kind in kinds}


def build_full_size(
    folder: Path | str, kind: Literal["txt2img", "inpaint"] = "txt2img", seed: int = 0
) -> Path:
    """Build an SD 1.5-shaped pipeline with random weights (860M-param UNet, the SD VAE, a
    CLIP ViT-L/14-shaped text encoder with the tiny byte-level vocabulary) for benchmarks.

    About 4 GB of float32 weights; takes tens of seconds on 2 cores. Idempotent (marker file)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    folder = Path(folder)
    marker = folder / TINY_MARKER
    if marker.is_file() and _is_valid(folder, f"full-{kind}", FULL_VERSION):
        return folder

    def build(tmp: Path) -> dict:
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(
            sample_size=64, cross_attention_dim=768, in_channels=_UNET_IN_CHANNELS[kind]
        )
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(128, 256, 512, 512),
            layers_per_block=2,
            latent_channels=4,
            sample_size=512,
        )
        text_encoder, tokenizer = clip_text_components(
            tmp, hidden=768, layers=12, heads=12, intermediate=3072
        )
        components = {
            "unet": unet,
            "vae": vae,
            "text_encoder": text_encoder,
            "tokenizer": tokenizer,
            "scheduler": sd_scheduler(),
        }
        _save_pipeline(kind, components, tmp)
        _, files = _content_hash_sizes_only(tmp)
        return {"version": FULL_VERSION, "kind": f"full-{kind}", "fingerprint": f"seed{seed}", "files": files}

    _build_in_place(folder, build)
    return folder


def _content_hash_sizes_only(folder: Path) -> tuple[str, dict[str, int]]:
    sizes = {
        p.relative_to(folder).as_posix(): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != TINY_MARKER
    }
    return "", sizes
