"""Segment Anything: automatic masks (one mask layer per segment) and prompted masks (click
points and/or a box around an object, get its mask).

A bundled extension using only the public op API. The model is transformers' ``SamModel`` with
``SamProcessor``, loaded with ``from_pretrained`` from safetensors (a hub repo id, downloaded
into the Hugging Face cache on first use, or a local folder; setting ``sam_model``, the ``sam``
model role it declares) through the
engine's model manager (``ctx.models.load``), like every model: it counts against the memory
budget, and a model a workflow file names obeys the model-folder rule. Nothing
here needs torchvision: automatic mode prompts the model with a grid of points and removes
duplicate masks with a numpy non-maximum suppression, instead of transformers'
torchvision-based ``mask-generation`` pipeline."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from PIL import Image

import opendream
from opendream import Context, Field, ImageLayer, InvalidParams, MaskLayer, OpFailed
from opendream.fields import text
from opendream.models import ModelRole, configured_model, declare_role
from opendream.pipelines import check_inputs, side_check

MAX_SIDE = 4096
POINT_BATCH = 64
MAX_CANDIDATES = 256


def build_tiny_sam(folder: Path) -> Path:
    """Save a tiny random-weight SAM (128 px input) with its processor into ``folder`` (once):
    the real model code on noise, for tests and ``--tiny-models``."""
    if (folder / "model.safetensors").is_file():
        return folder
    import torch
    from transformers import SamConfig, SamImageProcessor, SamModel, SamProcessor

    torch.manual_seed(0)
    config = SamConfig(
        vision_config={
            "hidden_size": 32,
            "output_channels": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 128,
            "window_size": 4,
            "global_attn_indexes": (1,),
            "mlp_dim": 64,
            "num_pos_feats": 16,
        },
        prompt_encoder_config={"hidden_size": 32, "image_size": 128, "mask_input_channels": 4},
        mask_decoder_config={
            "hidden_size": 32,
            "mlp_dim": 64,
            "num_attention_heads": 2,
            "iou_head_hidden_dim": 32,
        },
    )
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".sam-", dir=folder.parent))
    SamModel(config).save_pretrained(tmp, safe_serialization=True)
    processor = SamImageProcessor(size={"longest_edge": 128}, pad_size={"height": 128, "width": 128})
    SamProcessor(image_processor=processor).save_pretrained(tmp)
    try:
        tmp.rename(folder)  # a complete folder or none
    except OSError:  # another process built it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


# The model role SAM plays: an empty ``model`` is the ``sam_model`` setting (OPENDREAM_SAM_MODEL),
# and with --tiny-models a tiny SAM built in the tiny models' folder.
SAM_ROLE = declare_role(
    ModelRole(
        "sam",
        default="facebook/sam-vit-base",
        form="a local folder holding config.json, model.safetensors and processor_config.json",
        tiny=lambda folder: build_tiny_sam(folder / "sam"),
    )
)


def _models(ctx: Context | None) -> Any:
    """The engine's model manager (``ctx.models``): it loads, counts and evicts SAM too."""
    if ctx is None or ctx.models is None:
        raise OpFailed("sam needs the model manager (install Opendream's diffusion extra)")
    return ctx.models


def _load(model: str, ctx: Context) -> tuple[Any, Any]:
    """SAM and its processor, loaded once by the model manager under its memory budget. A
    model a workflow file names resolves only inside the model folders (``OPENDREAM_MODEL_DIRS``)."""
    manager = _models(ctx)
    device = ctx.device or "cpu"

    def load(location: str) -> tuple[Any, Any]:
        from transformers import SamModel, SamProcessor

        sam_model = SamModel.from_pretrained(location, use_safetensors=True).to(device).eval()
        return sam_model, SamProcessor.from_pretrained(location)

    return manager.load(SAM_ROLE.name, model, load, progress=ctx.download_progress, status=ctx.status)


def _identity(params: dict, ctx: Any) -> dict:
    model = str(params.get("model") or "")
    if ctx is None or ctx.models is None:
        return {"model": model.strip() or configured_model(getattr(ctx, "settings", None), SAM_ROLE.name)}
    return {"model": ctx.models.identity(model, SAM_ROLE.name)}


def parse_points(text: str, width: int, height: int) -> tuple[list[list[float]], list[int]]:
    """``"x,y; x,y,0"`` -> points and labels (1 = on the object, 0 = not on it; default 1)."""
    points, labels = [], []
    for chunk in filter(None, (c.strip() for c in text.split(";"))):
        try:
            values = [float(v) for v in chunk.split(",")]
        except ValueError:
            raise _bad("points", f"{chunk!r} is not `x,y` or `x,y,label`") from None
        if len(values) not in (2, 3) or (len(values) == 3 and values[2] not in (0, 1)):
            raise _bad("points", f"{chunk!r} is not `x,y` or `x,y,label` with label 0 or 1")
        x, y = values[:2]
        if not (0 <= x < width and 0 <= y < height):
            raise _bad("points", f"({x:g}, {y:g}) is outside the {width}x{height} image")
        points.append([x, y])
        labels.append(int(values[2]) if len(values) == 3 else 1)
    return points, labels


def parse_box(text: str, width: int, height: int) -> list[float] | None:
    """``"x0,y0,x1,y1"`` (pixels, top-left and bottom-right) or ``None`` when empty."""
    if not text.strip():
        return None
    try:
        x0, y0, x1, y1 = (float(v) for v in text.split(","))
    except ValueError:
        raise _bad("box", f"{text!r} is not `x0,y0,x1,y1`") from None
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise _bad("box", f"({text}) has to satisfy 0 <= x0 < x1 <= {width} and 0 <= y0 < y1 <= {height}")
    return [x0, y0, x1, y1]


def _to_image(mask: np.ndarray) -> Image.Image:
    return Image.fromarray(mask.astype(np.uint8) * 255, "L")


def _bad(param: str, message: str) -> InvalidParams:
    return InvalidParams("sam", [{"param": param, "message": message}])


def non_max_suppression(masks: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Indices of ``masks`` (N, H, W bool) to keep, best score first, dropping any mask whose
    IoU with an already kept one exceeds ``iou_threshold``."""
    flat = masks.reshape(len(masks), -1).astype(np.float32)
    areas = flat.sum(axis=1)
    intersections = flat @ flat.T
    ious = intersections / np.maximum(areas[:, None] + areas[None, :] - intersections, 1)
    keep: list[int] = []
    for index in np.argsort(-scores, kind="stable"):
        if all(ious[index, k] <= iou_threshold for k in keep):
            keep.append(int(index))
    return keep


def stability_scores(logits: np.ndarray, offset: float = 1.0) -> np.ndarray:
    """IoU of each mask thresholded at ``+offset`` and ``-offset``: how little it moves."""
    high = (logits > offset).reshape(len(logits), -1).sum(axis=1)
    low = (logits > -offset).reshape(len(logits), -1).sum(axis=1)
    return high / np.maximum(low, 1)


#: A share of a whole (a quality score, an area), 0 to 1.
Fraction = Annotated[float, Field(ge=0, le=1)]
Points = text("Prompt mode: clicks as `x,y` (or `x,y,0` for 'not this') separated by `;`", widget="points")
Box = text("Prompt mode: `x0,y0,x1,y1` around the object", widget="box", max_length=100)


@opendream.op(version="1", title="Segment Anything", category="mask", returns="mask", identity=_identity)
def sam(
    image: ImageLayer,
    mode: Literal["automatic", "prompt"] = "automatic",
    points: Points = "",
    box: Box = "",
    points_per_side: Annotated[int, Field(ge=2, le=64, description="Automatic mode: grid of prompts")] = 16,
    pred_iou_thresh: Annotated[Fraction, Field(description="Automatic: minimum predicted quality")] = 0.88,
    stability_score_thresh: Annotated[Fraction, Field(description="Automatic: minimum stability")] = 0.92,
    box_nms_thresh: Annotated[
        float, Field(gt=0, le=1, description="Automatic: overlap that makes a duplicate")
    ] = 0.7,
    min_area: Annotated[
        Fraction, Field(description="Automatic: smallest segment, fraction of image")
    ] = 0.001,
    max_masks: Annotated[int, Field(ge=1, le=64, description="Automatic: at most this many layers")] = 32,
    model: Annotated[
        str, Field(description="Hub repo id or local folder; empty = the sam_model setting")
    ] = "",
    ctx: Context = None,
) -> list[MaskLayer]:
    """Segment ``image`` with Segment Anything.

    ``automatic``: prompts the model with a ``points_per_side`` x ``points_per_side`` grid,
    keeps masks that pass the quality and stability thresholds, removes duplicates and makes
    each remaining segment a mask layer (largest first). ``prompt``: the object under
    ``points`` (positive/negative clicks) and/or inside ``box`` becomes one mask layer.
    Coordinates are pixels of ``image``.
    """
    # 1. Check inputs before loading anything
    source = image.get_image().convert("RGB")
    width, height = source.size
    check_inputs("sam", image=side_check(source.size, MAX_SIDE))
    prompt_points, labels = parse_points(points, width, height)
    prompt_box = parse_box(box, width, height)
    if mode == "prompt" and not prompt_points and prompt_box is None:
        raise _bad("points", "prompt mode needs `points` or a `box`")

    # 2. Load the model once; embed the image once
    import torch

    sam_model, processor = _load(model, ctx)
    device = ctx.device or "cpu"
    inputs = processor(images=source, return_tensors="pt")
    with torch.inference_mode():
        embeddings = sam_model.get_image_embeddings(inputs["pixel_values"].to(device))

    def predict(**prompts: Any) -> tuple[np.ndarray, np.ndarray]:
        """Low-resolution mask logits (N, 3, h, w) and predicted IoUs (N, 3) for N prompts."""
        encoded = processor(images=source, return_tensors="pt", **prompts)
        tensors = {k: v.to(device) for k, v in encoded.items() if k.startswith("input_")}
        with torch.inference_mode():
            out = sam_model(image_embeddings=embeddings, multimask_output=True, **tensors)
        return out.pred_masks[0].float().cpu().numpy(), out.iou_scores[0].float().cpu().numpy()

    def full_size(logits: np.ndarray) -> np.ndarray:
        """(N, h, w) low-resolution logits -> (N, height, width) boolean masks."""
        upscaled = processor.image_processor.post_process_masks(
            torch.from_numpy(logits[None, :, None]), inputs["original_sizes"], inputs["reshaped_input_sizes"]
        )
        return upscaled[0][:, 0].numpy().astype(bool)

    # 3a. Prompt mode: the best of SAM's three candidate masks for the one object
    if mode == "prompt":
        prompts: dict[str, Any] = {}
        if prompt_points:
            prompts["input_points"], prompts["input_labels"] = [[prompt_points]], [[labels]]
        if prompt_box is not None:
            prompts["input_boxes"] = [[prompt_box]]
        logits, scores = predict(**prompts)
        best = int(np.argmax(scores[0]))
        mask = full_size(logits[0, best][None])[0]
        return [MaskLayer(image=_to_image(mask))]

    # 3b. Automatic mode: a grid of single-point prompts, filtered, deduplicated
    resized_h, resized_w = (int(v) for v in inputs["reshaped_input_sizes"][0])
    padded_h, padded_w = inputs["pixel_values"].shape[-2:]
    low_h, low_w = (4 * side for side in embeddings.shape[-2:])  # the decoder upscales embeddings 4x
    valid_h, valid_w = -(-resized_h * low_h // padded_h), -(-resized_w * low_w // padded_w)
    steps = (np.arange(points_per_side) + 0.5) / points_per_side
    grid = [[float(x * width), float(y * height)] for y in steps for x in steps]
    candidates, candidate_scores = [], []
    for start in range(0, len(grid), POINT_BATCH):
        if ctx is not None:
            ctx.check_cancelled()
            ctx.progress(start, len(grid))
        batch = grid[start : start + POINT_BATCH]
        logits, ious = predict(input_points=[[[p] for p in batch]], input_labels=[[[1] for _ in batch]])
        logits, ious = logits.reshape(-1, *logits.shape[-2:]), ious.reshape(-1)
        stable = stability_scores(logits[:, :valid_h, :valid_w]) >= stability_score_thresh
        keep = (ious >= pred_iou_thresh) & stable
        candidates.append(logits[keep])
        candidate_scores.append(ious[keep])
    if ctx is not None:
        ctx.progress(len(grid), len(grid))
    logits = np.concatenate(candidates)
    scores = np.concatenate(candidate_scores)
    order = np.argsort(-scores, kind="stable")[:MAX_CANDIDATES]
    logits, scores = logits[order], scores[order]
    # Deduplicate at the model's low resolution, on the part that shows the image (not padding).
    keep = (
        non_max_suppression(logits[:, :valid_h, :valid_w] > 0, scores, box_nms_thresh) if len(logits) else []
    )
    masks = full_size(logits[keep]) if keep else np.zeros((0, height, width), bool)
    masks = [m for m in masks if m.mean() >= max(min_area, 1e-9)]
    if not masks:
        raise OpFailed(
            "sam found no segment passing the thresholds; lower `pred_iou_thresh`, "
            "`stability_score_thresh` or `min_area`, or use prompt mode"
        )
    masks.sort(key=lambda m: -int(m.sum()))
    return [MaskLayer(image=_to_image(m)) for m in masks[:max_masks]]
