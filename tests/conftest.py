"""Shared fixtures: a workspace on a temporary data directory with the built-in ops."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from opendream.core.registry import REGISTRY, OpRegistry
from opendream.engine.loader import load_builtin_ops
from opendream.engine.runtime import make_runtime
from opendream.settings import Settings
from tests.helpers import builtin_registry

if TYPE_CHECKING:
    from opendream.engine.workspace import Workspace

load_builtin_ops(REGISTRY)
# The tests' exact pixels are torch's; tests/test_openvino.py asks for OpenVINO itself. Servers the
# browser tests start inherit it.
os.environ.setdefault("OPENDREAM_BACKEND", "torch")
# Servers the tests start do not import diffusers on a thread beside the tests' own imports;
# tests/test_warm_start.py turns it on.
os.environ.setdefault("OPENDREAM_WARM_START", "0")
# The tiny diffusion models and their manager, built once for the whole session; the server
# tests' app and client. Test modules ask for these fixtures by name, never import them.
pytest_plugins = ["tests.diffusion_fixtures", "tests.server_fixtures"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def ops() -> OpRegistry:
    """The built-in ops in a registry of this test's own: the extension files it loads there
    (and the overrides it switches) stay out of the global registry and the other tests."""
    return builtin_registry()


@pytest.fixture
def workspace(settings: Settings, ops: OpRegistry) -> Iterator[Workspace]:
    """A workspace on ``ops`` without the model manager: for model-free ops (fast, no torch)."""
    from opendream.engine.workspace import Workspace

    ws = Workspace(settings, registry=ops, runtime=make_runtime(settings, load_models=False), extensions=[])
    yield ws
    ws.close()


@pytest.fixture
def registry() -> OpRegistry:
    """An empty registry for defining test ops without touching the global one."""
    return OpRegistry()
