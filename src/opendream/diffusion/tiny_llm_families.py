"""Tiny random-weight pipelines of the families whose text encoder is a language model
(Qwen-Image, Z-Image, FLUX.2 klein), for offline tests.

Like ``tiny.py``'s SD pipelines they are built with the real constructors and written with
``save_pretrained``, so loading and running go through diffusers' and transformers' own
code; they make noise, not pictures. Each builder seeds torch, so two builds hold identical
weights.

The tokenizers are built here, offline: the 256 byte-level symbols plus one BPE merge chain
per word of the pipelines' prompt templates, so a template tokenizes word by word as with the
real Qwen vocabulary. That matters because the Qwen-Image pipeline cuts a fixed number of
template tokens off the text encoder's output.

Qwen-Image-Edit is missing: its pipeline needs a ``Qwen2VLProcessor``, which transformers 5
cannot build (nor load) without torchvision, for its video processor."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from opendream.diffusion.quiet import silence_progress_bars
from opendream.diffusion.tiny import tiny_vae

_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<think>",
    "</think>",
)
# Qwen3's chat template, reduced to what the pipelines use: plain user messages, the
# generation prompt, and the empty thinking block FLUX.2 klein asks for (enable_thinking=False).
_QWEN3_CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- endif %}"
)
_CHAT_EXAMPLE = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"


def _qwen_tokenizer(texts: Iterable[str], model_max_length: int) -> Any:
    """A Qwen2 byte-level BPE tokenizer whose vocabulary holds every word of ``texts`` whole."""
    from tokenizers import pre_tokenizers
    from transformers import AddedToken, Qwen2Tokenizer

    vocab = {c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    probe = Qwen2Tokenizer(vocab=dict(vocab), merges=[])
    split = re.compile("|".join(re.escape(t) for t in _SPECIAL_TOKENS))
    merges: list[tuple[str, str]] = []
    pieces = {
        piece
        for text in texts
        for chunk in split.split(text)
        for piece, _ in probe.backend_tokenizer.pre_tokenizer.pre_tokenize_str(chunk)
    }
    # BPE applies the lowest-ranked merge first: the chains of the words after a space (Ġ) come
    # first, or a chain from a word without one ("user") could split the same word after a space.
    for piece in sorted(pieces, key=lambda p: (not p.startswith("Ġ"), p)):
        for end in range(2, len(piece) + 1):
            if piece[:end] not in vocab:
                vocab[piece[:end]] = len(vocab)
                merges.append((piece[: end - 1], piece[end - 1]))
    for token in _SPECIAL_TOKENS:
        vocab[token] = len(vocab)
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        model_max_length=model_max_length,
        chat_template=_QWEN3_CHAT_TEMPLATE,
    )
    tokenizer.add_special_tokens(
        {"additional_special_tokens": [AddedToken(t, special=True) for t in _SPECIAL_TOKENS[1:]]}
    )
    return tokenizer


def _flow_scheduler(**config: Any) -> Any:
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(**config)


def _qwen_image_scheduler() -> Any:
    # Qwen-Image's scheduler_config.json: the shift grows with the image's token count.
    return _flow_scheduler(
        base_image_seq_len=256,
        base_shift=0.5,
        max_image_seq_len=8192,
        max_shift=0.9,
        shift=1.0,
        shift_terminal=0.02,
        time_shift_type="exponential",
        use_dynamic_shifting=True,
    )


def _qwen_vl_text_encoder(tokenizer: Any) -> Any:
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    ids = tokenizer.convert_tokens_to_ids
    config = Qwen2_5_VLConfig(
        text_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": 2048,
            # Multimodal RoPE: (temporal, height, width) sections of half the 16-wide head.
            "rope_scaling": {"rope_type": "default", "mrope_section": [2, 3, 3]},
            "rope_theta": 1000000.0,
            "bos_token_id": ids("<|endoftext|>"),
            "eos_token_id": ids("<|im_end|>"),
            "pad_token_id": ids("<|endoftext|>"),
        },
        vision_config={
            "depth": 1,
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_heads": 2,
            "out_hidden_size": 32,
            "fullatt_block_indexes": [0],
        },
        vocab_size=len(tokenizer),
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )
    return Qwen2_5_VLForConditionalGeneration(config).eval()


def build_qwen_image(folder: Path) -> None:
    import torch
    from diffusers import AutoencoderKLQwenImage, QwenImagePipeline, QwenImageTransformer2DModel

    silence_progress_bars()
    torch.manual_seed(10)
    # The template is set in __init__, which runs without components.
    template = QwenImagePipeline(None, None, None, None, None).prompt_template_encode
    tokenizer = _qwen_tokenizer([template], model_max_length=2048)
    # 16 latent channels packed 2x2 into 64, as Qwen-Image; heads 16 wide, split (8, 4, 4)
    # between the frame, height and width RoPE axes.
    transformer = QwenImageTransformer2DModel(
        patch_size=2,
        in_channels=64,
        out_channels=16,
        num_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        guidance_embeds=False,
        axes_dims_rope=(8, 4, 4),
    )
    # Three spatial halvings (8x, as the real VAE), two of them temporal as in Qwen-Image's.
    vae = AutoencoderKLQwenImage(
        base_dim=4,
        z_dim=16,
        dim_mult=[1, 2, 4, 4],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
        latents_mean=[0.0] * 16,
        latents_std=[1.0] * 16,
    )
    pipe = QwenImagePipeline(
        transformer=transformer,
        vae=vae,
        text_encoder=_qwen_vl_text_encoder(tokenizer),
        tokenizer=tokenizer,
        scheduler=_qwen_image_scheduler(),
    )
    pipe.save_pretrained(folder, safe_serialization=True)


def _qwen3_text_encoder(tokenizer: Any, *, layers: int, causal_lm: bool) -> Any:
    from transformers import Qwen3Config, Qwen3ForCausalLM, Qwen3Model

    config = Qwen3Config(
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=16,
        vocab_size=len(tokenizer),
        max_position_embeddings=1024,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
    )
    return (Qwen3ForCausalLM if causal_lm else Qwen3Model)(config).eval()


def build_z_image(folder: Path) -> None:
    import torch
    from diffusers import ZImagePipeline, ZImageTransformer2DModel

    silence_progress_bars()
    torch.manual_seed(11)
    tokenizer = _qwen_tokenizer([_CHAT_EXAMPLE], model_max_length=1024)
    transformer = ZImageTransformer2DModel(
        all_patch_size=(2,),
        all_f_patch_size=(1,),
        in_channels=16,
        dim=32,
        n_layers=1,
        n_refiner_layers=1,
        n_heads=2,
        n_kv_heads=2,
        qk_norm=True,
        cap_feat_dim=32,
        axes_dims=[8, 4, 4],
        axes_lens=[1536, 512, 512],  # as Z-Image: room for 512 prompt tokens and 8192 px
    )
    # Z-Image uses FLUX.1's VAE: 16 latent channels, shifted and scaled, no quant convolutions.
    vae = tiny_vae(
        latent_channels=16,
        scaling_factor=0.3611,
        shift_factor=0.1159,
        use_quant_conv=False,
        use_post_quant_conv=False,
    )
    pipe = ZImagePipeline(
        transformer=transformer,
        vae=vae,
        # Z-Image reads the second-to-last hidden state, so two layers.
        text_encoder=_qwen3_text_encoder(tokenizer, layers=2, causal_lm=False),
        tokenizer=tokenizer,
        scheduler=_flow_scheduler(shift=3.0, use_dynamic_shifting=False),  # Z-Image-Turbo's
    )
    pipe.save_pretrained(folder, safe_serialization=True)


def build_flux2_klein(folder: Path) -> None:
    import torch
    from diffusers import AutoencoderKLFlux2, Flux2KleinPipeline, Flux2Transformer2DModel

    silence_progress_bars()
    torch.manual_seed(12)
    tokenizer = _qwen_tokenizer([_CHAT_EXAMPLE], model_max_length=1024)
    # The pipeline stacks hidden states 9, 18 and 27 by default, so the encoder needs 27
    # layers (each 32 wide, so still tiny) and the transformer reads 3 x 32 channels.
    text_encoder = _qwen3_text_encoder(tokenizer, layers=27, causal_lm=True)
    transformer = Flux2Transformer2DModel(
        patch_size=1,
        in_channels=128,  # 32 latent channels packed 2x2
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=96,
        timestep_guidance_channels=32,
        axes_dims_rope=(4, 4, 4, 4),
        guidance_embeds=False,
    )
    vae = AutoencoderKLFlux2(
        block_out_channels=(8, 16, 32, 32),
        layers_per_block=1,
        latent_channels=32,
        norm_num_groups=8,
        sample_size=512,
    )
    pipe = Flux2KleinPipeline(
        transformer=transformer,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        # Dynamic shifting, with the shift the pipeline computes from the token and step counts.
        scheduler=_flow_scheduler(use_dynamic_shifting=True, time_shift_type="exponential"),
    )
    pipe.save_pretrained(folder, safe_serialization=True)


BUILDERS: dict[str, Callable[[Path], None]] = {
    "qwen-image": build_qwen_image,
    "z-image": build_z_image,
    "flux2-klein": build_flux2_klein,
}
