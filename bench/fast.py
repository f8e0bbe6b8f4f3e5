"""Fast paths: switching a LoRA on a loaded base vs reloading the pipeline with it; the tiny
autoencoder vs the full VAE decoding one 512x512 picture; a 4-step preset (LCM) vs the 20-step
default, time to image through the engine. ``--full`` uses SD 1.5's shapes (random weights)."""

from __future__ import annotations

from bench._common import (
    CACHE,
    median,
    model_folder,
    parse_args,
    settings,
    setup_torch,
    table,
    timed,
    write_result,
)


def main() -> None:
    args = parse_args(
        __doc__ or "",
        [
            ("--repeats", {"type": int, "default": 3}),
            ("--size", {"type": int, "default": None, "help": "dream's pixels (default 256 full, 512 tiny)"}),
        ],
    )
    setup_torch()
    import torch
    from diffusers import AutoencoderKL, AutoencoderTiny, DiffusionPipeline

    import opendream.diffusion.ops  # noqa: F401
    from opendream import Context
    from opendream.core.registry import REGISTRY
    from opendream.diffusion.manager import ModelManager
    from opendream.diffusion.tiny_loras import build_tiny_lora

    folder = model_folder(args.full)
    loras = [
        build_tiny_lora(folder, CACHE / f"lora-{'full' if args.full else 'tiny'}-{i}.safetensors", seed=i)
        for i in range(args.repeats + 1)
    ]
    manager = ModelManager(settings(device=args.device), device=args.device, dtype=args.dtype)
    dtype = getattr(torch, args.dtype)
    base = manager.get("txt2img", str(folder))
    manager.adapters(base, [(str(loras[0]), 1.0)])  # one LoRA already in

    # 1. Another LoRA file on the loaded base (load + switch), another weight (switch only),
    #    vs loading the pipeline again with the LoRA in it.
    def switch_file(i: int) -> None:
        adapters = manager.adapters(base, [(str(loras[i]), 1.0)])
        with adapters.applied(base):
            pass

    def switch_weight() -> None:
        with manager.adapters(base, [(str(loras[0]), 0.5)]).applied(base):
            pass

    def reload(i: int) -> None:
        pipe = DiffusionPipeline.from_pretrained(str(folder), dtype=dtype).to(args.device)
        pipe.load_lora_weights(str(loras[i]), adapter_name="x")

    file_s = [timed(lambda i=i: switch_file(i))[0] for i in range(1, args.repeats + 1)]
    weight_s = [timed(switch_weight)[0] for _ in range(args.repeats)]
    reload_s = [timed(lambda i=i: reload(i))[0] for i in range(1, args.repeats + 1)]

    # 2. Decoding a 512x512 picture's latents: SD's VAE vs the tiny autoencoder (real shapes).
    torch.manual_seed(0)
    vae = AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(128, 256, 512, 512),
        layers_per_block=2,
        latent_channels=4,
    ).to(args.device, dtype)
    tiny = AutoencoderTiny().to(args.device, dtype)
    latents = torch.randn(1, 4, 64, 64, device=args.device, dtype=dtype)
    with torch.inference_mode():
        vae_s = [timed(lambda: vae.decode(latents))[0] for _ in range(args.repeats)]
        tiny_s = [timed(lambda: tiny.decode(latents))[0] for _ in range(args.repeats)]

    # 3. Time to image through the engine: the LCM preset's 4 steps vs the 20-step default.
    spec = REGISTRY.get("dream")
    ctx = Context(models=manager, settings=manager.settings)
    size = {"prompt": "a lighthouse", "width": args.size, "height": args.size, "model": str(folder)}
    preset = next(p for p in spec.presets if p["values"]["scheduler"] == "lcm")["values"]

    def dream(params: dict) -> None:
        spec.call(spec.validate_params({**size, **params}), {}, ctx)

    dream(preset)  # warm up
    few_s = [timed(lambda: dream(preset))[0] for _ in range(args.repeats)]
    default_s = [timed(lambda: dream({}))[0] for _ in range(args.repeats)]

    switch = max(median(file_s), median(weight_s))
    rows = [
        ["LoRA: another file on the loaded base", median(file_s), median(reload_s) / median(file_s)],
        ["LoRA: another weight", median(weight_s), median(reload_s) / median(weight_s)],
        ["LoRA: reload the pipeline with it", median(reload_s), 1.0],
        ["decode 512x512: full VAE", median(vae_s), 1.0],
        ["decode 512x512: tiny autoencoder", median(tiny_s), median(vae_s) / median(tiny_s)],
        [f"dream {args.size}: 20 steps (default)", median(default_s), 1.0],
        [f"dream {args.size}: 4 steps (LCM preset)", median(few_s), median(default_s) / median(few_s)],
    ]
    print(
        f"fast paths ({'full' if args.full else 'tiny'}, {args.repeats} runs each, {args.device} {args.dtype})"
    )
    print(table(["what", "median s", "x faster"], rows))
    targets = {
        "LoRA switch <= 0.5 s": switch <= 0.5,
        "LoRA switch >= 5x the reload": median(reload_s) / switch >= 5,
        "tiny autoencoder >= 10x": median(vae_s) / median(tiny_s) >= 10,
        "4 steps >= 4x": median(default_s) / median(few_s) >= 4,
    }
    print("; ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in targets.items()))
    path = write_result(
        "fast",
        args,
        {
            "lora_file_s": file_s,
            "lora_weight_s": weight_s,
            "lora_reload_s": reload_s,
            "vae_s": vae_s,
            "tiny_autoencoder_s": tiny_s,
            "dream_default_s": default_s,
            "dream_4_steps_s": few_s,
            "targets": targets,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
