"""Tiny random LoRAs for a tiny pipeline's UNet or transformer, for offline tests and benchmarks:
in diffusers' own format (``unet.….lora_A.weight``) or Kohya's (``lora_unet_…lora_down.weight``
with an ``alpha``), the two formats users' files come in. Made with peft on the real model, so
the names and shapes are the ones a trained LoRA has; seeded, so two builds are identical."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

LoraFormat = Literal["diffusers", "kohya"]
#: The attention projections LoRAs train (as diffusers' and Kohya's training scripts do).
TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


def build_tiny_lora(
    pipeline_folder: Path, out: Path, *, seed: int = 0, fmt: LoraFormat = "diffusers", rank: int = 4
) -> Path:
    """Write a random LoRA for the denoiser of the pipeline in ``pipeline_folder`` to ``out``
    (a ``.safetensors`` file) and return it. Its up-projections are random, not zero as at the
    start of training, so it changes the pictures."""
    import torch
    from diffusers import DiffusionPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save_file

    from opendream.diffusion.loading import CONSTRUCTING
    from opendream.diffusion.quiet import silence_progress_bars

    silence_progress_bars()
    # Built as the manager builds models: loading patches torch process-wide meanwhile, so a
    # model loading in the background (previews' tiny autoencoder) would come out empty.
    with CONSTRUCTING:
        pipe = DiffusionPipeline.from_pretrained(pipeline_folder)
        part = "unet" if hasattr(pipe, "unet") else "transformer"
        denoiser = getattr(pipe, part)
        torch.manual_seed(seed)
        denoiser.add_adapter(
            LoraConfig(r=rank, lora_alpha=rank, target_modules=TARGETS, init_lora_weights=True)
        )
    with torch.no_grad():
        for name, param in denoiser.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    state = {k: v.contiguous() for k, v in get_peft_model_state_dict(denoiser).items()}
    if fmt == "diffusers":
        tensors = {f"{part}.{key}": value for key, value in state.items()}
    else:
        tensors = {}
        for key, value in state.items():
            module, kind = key.rsplit(".lora_", 1)
            prefix = "lora_unet_" + module.replace(".", "_")
            tensors[f"{prefix}.lora_{'down' if kind.startswith('A') else 'up'}.weight"] = value
            tensors[f"{prefix}.alpha"] = torch.tensor(float(rank))
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out))
    return out
