"""Write a diffusers Stable Diffusion 1.x pipeline folder as ONE single-file checkpoint in the
original CompVis/LDM key layout (the layout of ``v1-5-pruned-emaonly.safetensors``).

Why: opendream loads such files with diffusers' ``from_single_file``, whose conversion code
can only be exercised offline if a checkpoint in that layout exists; no package ships one, so
the tests write one from the tiny random-weight pipelines (``opendream.diffusion.tiny``).

The mapping is the inverse of diffusers' forward converter (``convert_ldm_unet_checkpoint``,
``convert_ldm_vae_checkpoint``, ``convert_ldm_clip_checkpoint``). It is described as data: for
each component a list of *modules* (a diffusers prefix, its LDM prefix, a table renaming the
leaves inside it), generated from the component's ``config.json`` so any number of blocks
and layers works. Every weight has to map to exactly one LDM key and every module has to
exist, otherwise a ``ValueError`` names the keys that do not fit."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from opendream.storage.files import atomic_write

if TYPE_CHECKING:
    import torch

StateDict = dict[str, "torch.Tensor"]

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
CLIP_PREFIX = "cond_stage_model.transformer.text_model."

#: The component folders read, with the weight files (or shard indexes) tried in order.
COMPONENT_WEIGHTS: dict[str, tuple[str, ...]] = {
    "unet": ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.index.json"),
    "vae": ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.index.json"),
    "text_encoder": ("model.safetensors", "model.safetensors.index.json"),
}

#: Leaf renames inside a UNet resnet (diffusers ``ResnetBlock2D`` -> LDM ``ResBlock``).
UNET_RESNET_LEAVES = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "time_emb_proj": "emb_layers.1",
    "conv_shortcut": "skip_connection",
}
#: UNet layers outside the blocks.
UNET_TOP_LEVEL = {
    "conv_in": "input_blocks.0.0",
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}
#: Leaf renames inside a VAE resnet (the other names are the same in both layouts).
VAE_RESNET_LEAVES = {"conv_shortcut": "nin_shortcut"}
#: Leaf renames inside the VAE mid-block attention.
VAE_ATTENTION_LEAVES = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
#: VAE layers outside the blocks (identical names are listed too, so that every key is accounted for).
VAE_TOP_LEVEL = {
    "quant_conv": "quant_conv",
    "post_quant_conv": "post_quant_conv",
    **{f"{part}.conv_in": f"{part}.conv_in" for part in ("encoder", "decoder")},
    **{f"{part}.conv_out": f"{part}.conv_out" for part in ("encoder", "decoder")},
    **{f"{part}.conv_norm_out": f"{part}.norm_out" for part in ("encoder", "decoder")},
}


class Module(NamedTuple):
    """A diffusers module and where its weights go in the LDM layout."""

    diffusers: str
    ldm: str
    leaves: Mapping[str, str] = {}
    #: LDM stores these linear layers as 1x1 convolutions (the VAE attention): 2-D -> 4-D weights.
    as_conv: bool = False


def _has_attention(block_type: str) -> bool:
    return "CrossAttn" in block_type


def unet_modules(config: Mapping[str, Any]) -> list[Module]:
    """The UNet's modules. LDM numbers the down path as ``input_blocks`` (0 is ``conv_in``, then
    per block ``layers_per_block`` layers and a downsampler) and the up path as ``output_blocks``
    (per block ``layers_per_block + 1`` layers, the last one also holding the upsampler). Within
    a layer, index 0 is the resnet and 1 the transformer; ``proj_in/proj_out`` keep their shape
    (conv or linear per ``use_linear_projection``), as in the LDM original."""
    per_block = config["layers_per_block"]
    if not isinstance(per_block, int):
        raise ValueError(f"the LDM layout needs one `layers_per_block` for all blocks, not {per_block!r}")
    down_types, up_types = config["down_block_types"], config["up_block_types"]
    modules = [Module(d, ldm) for d, ldm in UNET_TOP_LEVEL.items()]
    for block, block_type in enumerate(down_types):
        for layer in range(per_block):
            index = 1 + block * (per_block + 1) + layer
            modules.append(
                Module(f"down_blocks.{block}.resnets.{layer}", f"input_blocks.{index}.0", UNET_RESNET_LEAVES)
            )
            if _has_attention(block_type):
                modules.append(Module(f"down_blocks.{block}.attentions.{layer}", f"input_blocks.{index}.1"))
        if block < len(down_types) - 1:
            index = (block + 1) * (per_block + 1)
            modules.append(Module(f"down_blocks.{block}.downsamplers.0.conv", f"input_blocks.{index}.0.op"))
    modules += [
        Module("mid_block.resnets.0", "middle_block.0", UNET_RESNET_LEAVES),
        Module("mid_block.attentions.0", "middle_block.1"),
        Module("mid_block.resnets.1", "middle_block.2", UNET_RESNET_LEAVES),
    ]
    for block, block_type in enumerate(up_types):
        attention = _has_attention(block_type)
        for layer in range(per_block + 1):
            index = block * (per_block + 1) + layer
            modules.append(
                Module(f"up_blocks.{block}.resnets.{layer}", f"output_blocks.{index}.0", UNET_RESNET_LEAVES)
            )
            if attention:
                modules.append(Module(f"up_blocks.{block}.attentions.{layer}", f"output_blocks.{index}.1"))
        if block < len(up_types) - 1:
            last = (block + 1) * (per_block + 1) - 1
            slot = 2 if attention else 1
            modules.append(
                Module(f"up_blocks.{block}.upsamplers.0.conv", f"output_blocks.{last}.{slot}.conv")
            )
    return modules


def vae_modules(config: Mapping[str, Any]) -> list[Module]:
    """The VAE's modules. LDM counts the decoder's ``up`` blocks from the bottom (diffusers'
    ``up_blocks.0`` is LDM's ``up.{n-1}``); the mid block is ``block_1, attn_1, block_2``."""
    per_block = config["layers_per_block"]
    down, up = len(config["down_block_types"]), len(config["up_block_types"])
    modules = [Module(d, ldm) for d, ldm in VAE_TOP_LEVEL.items()]
    for block in range(down):
        for layer in range(per_block):
            modules.append(
                Module(
                    f"encoder.down_blocks.{block}.resnets.{layer}",
                    f"encoder.down.{block}.block.{layer}",
                    VAE_RESNET_LEAVES,
                )
            )
        if block < down - 1:
            modules.append(
                Module(
                    f"encoder.down_blocks.{block}.downsamplers.0.conv",
                    f"encoder.down.{block}.downsample.conv",
                )
            )
    for block in range(up):
        ldm_block = up - 1 - block
        for layer in range(per_block + 1):
            modules.append(
                Module(
                    f"decoder.up_blocks.{block}.resnets.{layer}",
                    f"decoder.up.{ldm_block}.block.{layer}",
                    VAE_RESNET_LEAVES,
                )
            )
        if block < up - 1:
            modules.append(
                Module(
                    f"decoder.up_blocks.{block}.upsamplers.0.conv", f"decoder.up.{ldm_block}.upsample.conv"
                )
            )
    for part in ("encoder", "decoder"):
        modules += [
            Module(f"{part}.mid_block.resnets.{i}", f"{part}.mid.block_{i + 1}", VAE_RESNET_LEAVES)
            for i in range(2)
        ]
        if config.get("mid_block_add_attention", True):
            modules.append(
                Module(
                    f"{part}.mid_block.attentions.0", f"{part}.mid.attn_1", VAE_ATTENTION_LEAVES, as_conv=True
                )
            )
    return modules


def _rename_leaf(rest: str, leaves: Mapping[str, str]) -> str:
    for old, new in leaves.items():
        if rest.startswith(old + "."):
            return new + rest[len(old) :]
    return rest


def convert(state_dict: StateDict, modules: Iterable[Module], prefix: str, component: str) -> StateDict:
    """Rename every key of a diffusers ``state_dict`` to ``prefix`` + its LDM name.

    A key belongs to the module with the longest matching prefix. Raises ``ValueError`` if a key
    fits no module or a module has no keys (the config and the weights disagree)."""
    by_prefix = {module.diffusers: module for module in modules}
    out: StateDict = {}
    used: set[str] = set()
    unmapped: list[str] = []
    for key, tensor in state_dict.items():
        parts = key.split(".")
        # Longest module prefix first: "up_blocks.0.resnets.1" before "up_blocks.0".
        module = next(
            (by_prefix[p] for n in range(len(parts) - 1, 0, -1) if (p := ".".join(parts[:n])) in by_prefix),
            None,
        )
        if module is None:
            unmapped.append(key)
            continue
        used.add(module.diffusers)
        rest = _rename_leaf(key[len(module.diffusers) + 1 :], module.leaves)
        if module.as_conv and rest.endswith(".weight") and tensor.ndim == 2:
            tensor = tensor[:, :, None, None]
        out[prefix + module.ldm + "." + rest] = tensor
    missing = sorted(set(by_prefix) - used)
    if unmapped or missing:
        problems = []
        if unmapped:
            problems.append(f"weights with no LDM name: {', '.join(sorted(unmapped)[:8])}")
        if missing:
            problems.append(
                f"modules its config.json describes but the weights lack: {', '.join(missing[:8])}"
            )
        raise ValueError(
            f"the {component} does not fit the Stable Diffusion 1.x LDM layout ({'; '.join(problems)})"
        )
    return out


def convert_text_encoder(state_dict: StateDict, config: Mapping[str, Any]) -> StateDict:
    """The CLIP text encoder keeps its transformers names under ``cond_stage_model.transformer.``.
    transformers >= 5.6 saves ``CLIPTextModel`` without the ``text_model.`` level; the LDM
    layout (and diffusers' detection of a CLIP encoder in a single file) has it."""
    architectures = config.get("architectures") or ["CLIPTextModel"]
    if architectures != ["CLIPTextModel"]:
        raise ValueError(
            f"the text_encoder is a {', '.join(architectures)}; the SD 1.x LDM layout holds a CLIPTextModel"
        )
    return {CLIP_PREFIX + key.removeprefix("text_model."): tensor for key, tensor in state_dict.items()}


def ldm_state_dict(
    unet: StateDict,
    vae: StateDict,
    text_encoder: StateDict,
    unet_config: Mapping[str, Any],
    vae_config: Mapping[str, Any],
    text_encoder_config: Mapping[str, Any] | None = None,
) -> StateDict:
    """The three diffusers state dicts as one LDM-layout state dict (tensors are not copied)."""
    return {
        **convert(unet, unet_modules(unet_config), UNET_PREFIX, "unet"),
        **convert(vae, vae_modules(vae_config), VAE_PREFIX, "vae"),
        **convert_text_encoder(text_encoder, text_encoder_config or {}),
    }


def _component(folder: Path, name: str) -> tuple[StateDict, dict[str, Any]]:
    from safetensors.torch import load_file

    sub = folder / name
    config_file = sub / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{folder} has no {name} component ({config_file} is missing)")
    config = json.loads(config_file.read_text())
    for candidate in COMPONENT_WEIGHTS[name]:
        path = sub / candidate
        if not path.is_file():
            continue
        if not candidate.endswith(".index.json"):
            return load_file(str(path)), config
        shards = sorted(set(json.loads(path.read_text())["weight_map"].values()))
        state: StateDict = {}
        for shard in shards:
            state.update(load_file(str(sub / shard)))
        return state, config
    raise FileNotFoundError(
        f"{folder} has no safetensors weights for its {name} (looked for {' or '.join(COMPONENT_WEIGHTS[name])} "
        f"in {sub})"
    )


def write_ldm_checkpoint(pipeline_folder: Path, out_file: Path) -> Path:
    """Write the unet, vae and text_encoder of the diffusers pipeline in ``pipeline_folder`` as one
    LDM-layout ``.safetensors`` file at ``out_file`` (atomically). Returns ``out_file``.

    Raises ``FileNotFoundError`` for a missing folder, component or weight file, and ``ValueError``
    for a folder that is not a pipeline or weights that do not fit the layout."""
    from safetensors.torch import save

    folder, out_file = Path(pipeline_folder), Path(out_file)
    if not folder.is_dir():
        raise FileNotFoundError(f"pipeline folder {folder} does not exist")
    if not (folder / "model_index.json").is_file():
        raise ValueError(f"{folder} is not a diffusers pipeline folder (it has no model_index.json)")
    (unet, unet_config), (vae, vae_config), (text_encoder, text_encoder_config) = (
        _component(folder, name) for name in COMPONENT_WEIGHTS
    )
    state = ldm_state_dict(unet, vae, text_encoder, unet_config, vae_config, text_encoder_config)
    atomic_write(out_file, save({k: v.contiguous() for k, v in state.items()}, metadata={"format": "pt"}))
    return out_file
