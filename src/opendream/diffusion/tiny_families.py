"""Tiny random-weight pipelines of the families beyond SD 1.x (SDXL, SD3, Flux.1, Flux.1 Kontext,
Chroma; and Qwen-Image, Z-Image and FLUX.2 klein from ``tiny_llm_families``) for offline tests: each has its family's real pipeline class, component classes and
latent layout, at hidden sizes of about 32 with one or two layers. Built seeded at test time
like ``opendream.diffusion.tiny``'s models, with its builders and its marker, lock and
rename-into-place (``ensure_built``); nothing comes from the hub.

Their native resolution is the real family's (1024 px, 128 latents through the 8x VAE), so
a call without a size makes a 1024 px picture, as the real model would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from opendream.diffusion.quiet import silence_progress_bars
from opendream.diffusion.tiny import clip_text_components, ensure_built, sd_scheduler, tiny_unet, tiny_vae
from opendream.diffusion.tiny_llm_families import BUILDERS as LLM_BUILDERS

TINY_FAMILIES_VERSION = 1
_CLIP = {"hidden": 32, "layers": 2, "heads": 4, "intermediate": 37}  # as tiny.py's SD 1.x encoder
# The real VAEs' latent normalisation (their vae/config.json).
_SD3_VAE = {"scaling_factor": 1.5305, "shift_factor": 0.0609}
_FLUX_VAE = {"scaling_factor": 0.3611, "shift_factor": 0.1159}


def _seed(seed: int) -> None:
    import torch

    silence_progress_bars()
    torch.manual_seed(seed)


def _save(pipeline_class: str, folder: Path, **components: Any) -> None:
    import diffusers

    getattr(diffusers, pipeline_class)(**components).save_pretrained(folder, safe_serialization=True)


def _flow_vae(normalisation: dict[str, float]) -> Any:
    # SD3 and Flux: 16 latent channels, no quant convolutions.
    return tiny_vae(16, use_quant_conv=False, use_post_quant_conv=False, **normalisation)


def _flow_scheduler(**config: Any) -> Any:
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0, **config)


def _dynamic_flow_scheduler() -> Any:
    # Flux.1 dev's and Chroma's schedule: the shift grows with the image's token count.
    return _flow_scheduler(
        use_dynamic_shifting=True,
        base_shift=0.5,
        max_shift=1.15,
        base_image_seq_len=256,
        max_image_seq_len=4096,
    )


def _t5_components(d_model: int = 32) -> tuple[Any, Any]:
    """A T5 encoder and a T5 tokenizer over single ASCII characters (a Unigram vocabulary made
    here: T5's pad, eos and unk at 0-2, its word-start ``▁``, then the printable characters;
    other characters are unk)."""
    from transformers import T5Config, T5EncoderModel, T5Tokenizer

    chars = [chr(c) for c in range(ord("!"), ord("~") + 1)]
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)] + [(c, -3.0) for c in chars]
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=512)
    config = T5Config(
        vocab_size=len(vocab),
        d_model=d_model,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
    )
    return T5EncoderModel(config).eval(), tokenizer


def _build_sdxl(folder: Path) -> None:
    _seed(10)
    text_encoder, tokenizer = clip_text_components(folder, **_CLIP)
    text_encoder_2, tokenizer_2 = clip_text_components(folder, **_CLIP, projection_dim=32)
    unet = tiny_unet(
        4,
        sample_size=128,
        cross_attention_dim=2 * _CLIP["hidden"],  # both encoders' hidden states, concatenated
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        # six size/crop numbers of 8 channels each, and the second encoder's pooled projection
        projection_class_embeddings_input_dim=6 * 8 + 32,
    )
    _save(
        "StableDiffusionXLPipeline",
        folder,
        vae=tiny_vae(),
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=unet,
        scheduler=sd_scheduler(),
    )


def _build_sd3(folder: Path) -> None:
    from diffusers import SD3Transformer2DModel

    _seed(11)
    text_encoder, tokenizer = clip_text_components(folder, **_CLIP, projection_dim=32)
    text_encoder_2, tokenizer_2 = clip_text_components(folder, **_CLIP, projection_dim=32)
    # SD3 runs without T5 (text_encoder_3=None) only when the loader is told so: a folder
    # saved without it does not load with a plain from_pretrained, and real ones all have it.
    text_encoder_3, tokenizer_3 = _t5_components(d_model=2 * _CLIP["hidden"])
    transformer = SD3Transformer2DModel(
        sample_size=128,
        patch_size=2,
        in_channels=16,
        out_channels=16,
        num_layers=2,
        attention_head_dim=8,
        num_attention_heads=4,
        caption_projection_dim=32,  # the transformer's width, heads x head size
        # T5's width; both CLIP encoders' hidden states, concatenated, are padded to it.
        joint_attention_dim=2 * _CLIP["hidden"],
        pooled_projection_dim=2 * 32,  # both encoders' pooled projections
    )
    _save(
        "StableDiffusion3Pipeline",
        folder,
        transformer=transformer,
        scheduler=_flow_scheduler(),
        vae=_flow_vae(_SD3_VAE),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        text_encoder_3=text_encoder_3,
        tokenizer_3=tokenizer_3,
    )


def _flux_transformer_config() -> dict[str, Any]:
    # Latents are packed 2x2 into tokens (16 channels x 4); the rotary axes add up to a head.
    return {
        "patch_size": 1,
        "in_channels": 64,
        "num_layers": 1,
        "num_single_layers": 1,
        "attention_head_dim": 16,
        "num_attention_heads": 2,
        "joint_attention_dim": 32,  # T5's width
        "axes_dims_rope": (4, 4, 8),
    }


def _flux(pipeline_class: str, seed: int, folder: Path) -> None:
    from diffusers import FluxTransformer2DModel

    _seed(seed)
    text_encoder, tokenizer = clip_text_components(folder, **_CLIP)
    text_encoder_2, tokenizer_2 = _t5_components()
    # Guidance-distilled, as Flux.1 dev and Kontext dev: guidance_scale is an input of the model.
    transformer = FluxTransformer2DModel(
        **_flux_transformer_config(), pooled_projection_dim=_CLIP["hidden"], guidance_embeds=True
    )
    _save(
        pipeline_class,
        folder,
        scheduler=_dynamic_flow_scheduler(),
        vae=_flow_vae(_FLUX_VAE),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        transformer=transformer,
    )


def _build_chroma(folder: Path) -> None:
    from diffusers import ChromaTransformer2DModel

    _seed(14)
    text_encoder, tokenizer = _t5_components()
    transformer = ChromaTransformer2DModel(
        **_flux_transformer_config(),
        approximator_num_channels=16,
        approximator_hidden_dim=32,
        approximator_layers=1,
    )
    _save(
        "ChromaPipeline",
        folder,
        scheduler=_dynamic_flow_scheduler(),
        vae=_flow_vae(_FLUX_VAE),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
    )


_BUILDERS: dict[str, Callable[[Path], None]] = {
    "sdxl": _build_sdxl,
    "sd3": _build_sd3,
    "flux1": lambda folder: _flux("FluxPipeline", 12, folder),
    "flux1-kontext": lambda folder: _flux("FluxKontextPipeline", 13, folder),
    "chroma": _build_chroma,
    **LLM_BUILDERS,
}
TINY_FAMILIES: tuple[str, ...] = tuple(_BUILDERS)


def ensure_tiny_family(name: str, cache_dir: Path | str) -> Path:
    """Build the tiny pipeline of family ``name`` into ``<cache_dir>/<name>/`` unless a valid
    build is there; return its folder (see ``opendream.diffusion.tiny.ensure_built``)."""
    build = _BUILDERS.get(name)
    if build is None:
        raise ValueError(f"`name` has to be one of {', '.join(_BUILDERS)} but is {name!r}")
    return ensure_built(Path(cache_dir), name, TINY_FAMILIES_VERSION, build)
