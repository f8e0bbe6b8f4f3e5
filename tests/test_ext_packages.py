"""Extensions as packages: a distribution installed on the path declares its module in the
``opendream`` entry-point group and its ops load (a broken one is reported, the others load);
``opendream.testing.run_op`` runs an op through the real engine, as an extension's tests would."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import SecretStr, ValidationError

import opendream
from opendream import ImageLayer, MaskLayer
from opendream.core.errors import InvalidParams, OpFailed
from opendream.core.registry import REGISTRY, OpRegistry
from opendream.engine.hooks import Hooks
from opendream.engine.loader import load_extension_file, load_installed_extensions
from opendream.testing import run_op
from tests.helpers import gradient, square_mask

PACKAGE = '''
"""Acme's ops, installed with pip."""
from PIL import ImageOps

import opendream
from opendream import ImageLayer, MaskLayer


@opendream.op(category="acme")
def acme_mirror(image: ImageLayer) -> ImageLayer:
    """Mirror the picture left to right."""
    return ImageLayer(image=ImageOps.mirror(image.get_image()))


@opendream.op(returns="mask")
def invert_mask(mask: MaskLayer) -> MaskLayer:
    """Acme's take on the built-in: a flat grey mask."""
    return MaskLayer(image=mask.get_image().point(lambda v: 128))
'''


def _install(site: Path, dist: str, module: str, source: str, entry: str) -> None:
    """A distribution as pip leaves it: the module and its ``.dist-info`` with entry points."""
    (site / f"{module}.py").write_text(source)
    info = site / f"{dist.replace('-', '_')}-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2\n")
    (info / "entry_points.txt").write_text(f"[opendream]\n{entry} = {module}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "site-packages"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    for name in ("acme_ops", "broken_ops"):
        sys.modules.pop(name, None)


def test_an_installed_package_declares_its_ops_with_an_entry_point(site: Path, ops: OpRegistry) -> None:
    _install(site, "acme-ops", "acme_ops", PACKAGE, "acme")
    _install(site, "broken-ops", "broken_ops", "import not_a_module_anywhere\n", "broken")
    statuses = {s.name: s for s in load_installed_extensions(ops)}
    assert statuses["acme"].error is None
    assert statuses["acme"].ops == ["acme_mirror", "invert_mask"]
    assert statuses["acme"].source == str((site / "acme_ops.py").resolve())
    mirror = ops.get("acme_mirror")
    assert mirror.extension == "acme" and mirror.user and mirror.category == "acme"
    # A package is the user's choice, as a file is: its op overrides the built-in one.
    assert ops.get("invert_mask").overrides is not None
    (grey,) = run_op("invert_mask", inputs={"mask": square_mask(32)}, registry=ops)
    assert set(np.unique(np.asarray(grey.get_image()))) == {128}
    (mirrored,) = run_op("acme_mirror", inputs={"image": gradient(16)}, registry=ops)
    assert mirrored.get_image().tobytes() == gradient(16).transpose(Image.Transpose.FLIP_LEFT_RIGHT).tobytes()
    assert "acme_mirror" not in REGISTRY.ops, "the test's registry only"
    broken = statuses["broken"]
    assert broken.ops == [] and "broken-ops 1.2" in (broken.error or "")
    assert "ModuleNotFoundError" in (broken.error or "")


def test_run_op_runs_a_model_free_op_through_the_engine() -> None:
    (inverted,) = run_op("invert_mask", inputs={"mask": square_mask(32, (8, 8, 24, 24))})
    assert isinstance(inverted, MaskLayer)
    pixels = np.asarray(inverted.get_image())
    assert pixels[0, 0] == 255 and pixels[16, 16] == 0
    (flat,) = run_op(REGISTRY.get("flatten").func, {"background": "#102030"}, {"layers": [gradient(16)]})
    assert isinstance(flat, ImageLayer) and flat.get_image().size == (16, 16)


def test_run_op_refuses_bad_input_clearly() -> None:
    with pytest.raises(InvalidParams, match="radius"):
        run_op("feather_mask", {"radius": -1}, {"mask": square_mask()})
    with pytest.raises(InvalidParams, match="`picture`: is not a layer parameter"):
        run_op("invert_mask", inputs={"picture": square_mask()})
    with pytest.raises(InvalidParams, match="a mask layer is required"):
        run_op("invert_mask")
    with pytest.raises(InvalidParams, match="is not a registered op"):
        run_op(lambda: None)


def test_run_op_reports_a_failed_run_as_the_user_would_read_it() -> None:
    with pytest.raises(OpFailed, match=r"img2img: .*has to give at least one step"):
        run_op("img2img", {"prompt": "a", "steps": 1}, {"image_layer": gradient(64)})


def test_run_op_runs_a_diffusion_op_on_the_tiny_models_with_progress(
    tiny_dir: Path, pinned_threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENDREAM_TINY_MODELS_DIR", str(tiny_dir))
    steps: list[tuple[int, int, bool]] = []
    hooks = Hooks(progress=lambda step, total, preview: steps.append((step, total, preview is not None)))
    (image,) = run_op("dream", {"prompt": "a lighthouse", "steps": 3}, size=(96, 64), hooks=hooks)
    assert image.get_image().size == (96, 64), "the canvas size"
    assert [s[:2] for s in steps] == [(1, 3), (2, 3), (3, 3)]
    assert any(has_preview for _, _, has_preview in steps)
    assert run_op("dream", {"prompt": "a lighthouse", "steps": 3}, size=(96, 64))[
        0
    ].get_image().tobytes() == (image.get_image().tobytes()), "the same recipe, the same pixels"


def _python_block(text: str, heading: str) -> str:
    """The first Python code block under ``heading`` in a Markdown text."""
    section = text.split(f"\n{heading}\n", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_docs_testing_example_runs(tmp_path: Path) -> None:
    """docs/extensions.md: the posterize extension, tested as its testing section shows."""
    docs = (Path(__file__).parents[1] / "docs" / "extensions.md").read_text()
    extension = tmp_path / "posterize.py"
    extension.write_text(_python_block(docs, "## An extension in ten lines"))
    status = load_extension_file(extension)
    try:
        assert status.error is None and status.ops == ["posterize"]
        namespace: dict = {}
        exec(_python_block(docs, "## Testing an extension with the tiny models"), namespace)
        namespace["test_posterize"]()
    finally:
        REGISTRY.unregister_file(str(extension.resolve()))
        sys.modules.pop("opendream_ext_posterize", None)


def test_an_extension_reads_its_own_settings_and_keeps_its_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    class AcmeSettings(opendream.ExtensionSettings, extension="acme"):
        api_key: SecretStr = SecretStr("")
        steps: int = 3

    monkeypatch.setenv("OPENDREAM_ACME_API_KEY", "sk-acme-123")
    monkeypatch.setenv("OPENDREAM_ACME_STEPS", "7")
    monkeypatch.setenv("OPENDREAM_OTHER_STEPS", "9")  # another extension's
    settings = AcmeSettings()
    assert (settings.api_key.get_secret_value(), settings.steps) == ("sk-acme-123", 7)
    assert "sk-acme-123" not in repr(settings) and "sk-acme-123" not in str(settings.model_dump())
    monkeypatch.setenv("OPENDREAM_ACME_STEPS", "many")
    with pytest.raises(ValidationError, match="steps"):
        AcmeSettings()
    with pytest.raises(ValueError, match="not a Python identifier"):

        class Broken(opendream.ExtensionSettings, extension="my-ext"):
            pass
