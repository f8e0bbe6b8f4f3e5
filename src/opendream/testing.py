"""Run an op the way Opendream runs it, without a server: what an extension's own tests need.

    from opendream.testing import run_op

    (edges,) = run_op("canny_edges", inputs={"image": picture})
    (image,) = run_op("dream", {"prompt": "a lighthouse", "steps": 4}, size=(512, 512))

The op goes through the real engine (parameter validation, the layer's inputs, the model
manager with the tiny offline models by default, the cache) on a throwaway data directory,
and its outputs come back as layers (``ImageLayer`` or ``MaskLayer``)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from opendream.core.errors import InvalidParams, OpFailed
from opendream.core.layer import ImageLayer, Layer, MaskLayer
from opendream.core.project import Project
from opendream.core.recipe import asset_ref
from opendream.core.registry import REGISTRY, OpRegistry
from opendream.engine import events
from opendream.engine.hooks import Hooks
from opendream.settings import Settings

Inputs = dict[str, Image.Image | list[Image.Image]]


def run_op(
    op: str | Callable[..., Any],
    params: dict[str, Any] | None = None,
    inputs: Inputs | None = None,
    *,
    size: tuple[int, int] | None = None,
    tiny_models: bool = True,
    settings: Settings | None = None,
    hooks: Hooks | None = None,
    registry: OpRegistry = REGISTRY,
) -> list[Layer]:
    """Run ``op`` (its name, or the decorated function) on ``params`` and ``inputs`` (layer
    parameter -> picture, or list of pictures). ``size`` is the canvas (default: the first
    input's size, else 512x512), which ``dream``-like ops take when ``width``/``height`` are
    omitted. Bad params raise ``InvalidParams``; a failed run raises ``OpFailed`` with the
    message a user would see. ``settings`` replaces the throwaway data directory and the tiny
    models; ``hooks`` receives progress, previews and status as the CLI's bar does;
    ``registry`` is where the op is looked up and the installed extensions are loaded."""
    from opendream.engine.workspace import Workspace

    pictures = dict(inputs or {})
    first = next((p[0] if isinstance(p, list) else p for p in pictures.values() if p), None)
    width, height = size or (first.size if first is not None else (512, 512))
    with tempfile.TemporaryDirectory(prefix="opendream-testing-") as tmp:
        config = settings or _throwaway(Path(tmp), tiny_models)
        workspace = Workspace(config, registry=registry)
        try:
            spec = _spec(workspace, op)
            project = Project.new(f"testing {spec.name}", width, height)
            kinds = {p.name: p.kind for p in spec.layer_params}
            unknown = sorted(set(pictures) - set(kinds))
            if unknown:
                raise InvalidParams(
                    spec.name,
                    [{"param": n, "message": "is not a layer parameter of this op"} for n in unknown],
                )
            layer_ids = {
                name: _sources(workspace, project, value, kinds[name]) for name, value in pictures.items()
            }
            target = project.add_layer(spec, params or {}, layer_ids)
            run = workspace.runner.run_layer(
                project, target.id, cancel_event=hooks.cancel if hooks else None, on_event=_listener(hooks)
            )
            if run.outcome not in ("computed", "cached"):
                raise OpFailed(f"{spec.name}: {run.error or run.outcome}")
            return [_layer(workspace, x.kind, x.blob) for x in project.group(target.id)]
        finally:
            workspace.close()


def _throwaway(data_dir: Path, tiny_models: bool) -> Settings:
    """Settings on ``data_dir`` that keep the tiny models where the user's own runs keep them
    (``OPENDREAM_TINY_MODELS_DIR``, else the default data dir): built once, not per call."""
    usual = Settings()
    tiny_dir = usual.tiny_models_dir or usual.data_dir / "tiny-models"
    return Settings(data_dir=data_dir, tiny_models=tiny_models, tiny_models_dir=tiny_dir)


def _spec(workspace: Any, op: str | Callable[..., Any]) -> Any:
    if isinstance(op, str):
        return workspace.registry.get(op)
    found = next((s for s in workspace.registry.all_specs() if s.func is op), None)
    if found is None:
        raise InvalidParams("op", [{"param": "op", "message": f"{op!r} is not a registered op"}])
    return found


def _sources(
    workspace: Any, project: Project, value: Image.Image | list[Image.Image], kind: str
) -> str | list[str]:
    """Source layers holding the given pictures, as the web UI's uploads make them."""
    op = "paint_mask" if kind == "mask" else "load_image"

    def add(picture: Image.Image) -> str:
        stored = picture.convert("L") if op == "paint_mask" else picture
        ref = asset_ref(workspace.data.blobs.put_image(stored))
        layer = project.add_layer(workspace.registry.get(op), {"asset": ref}, {})
        workspace.runner.run_layer(project, layer.id)
        return layer.id

    return [add(p) for p in value] if isinstance(value, list) else add(value)


def _listener(hooks: Hooks | None) -> Callable[[Any], None]:
    def forward(event: Any) -> None:
        if hooks is None:
            return
        if event.type == events.PROGRESS:
            hooks.progress(event.data["step"], event.data["total"], event.data["preview"])
        elif event.type == events.STATUS:
            hooks.status(event.data["text"])
        elif event.type == events.DOWNLOAD:
            hooks.download(event.data["done_bytes"], event.data["total_bytes"])

    return forward


def _layer(workspace: Any, kind: str, blob: str | None) -> Layer:
    assert blob is not None
    image = workspace.data.blobs.get_image(blob)
    return MaskLayer(image=image) if kind == "mask" else ImageLayer(image=image)
