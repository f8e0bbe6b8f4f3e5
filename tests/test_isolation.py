"""The tests' own ops stay out of the global registry: a test module's ops reach neither the
other tests nor the op listings of the servers the tests start."""

from __future__ import annotations

import importlib
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from opendream.core.registry import REGISTRY
from opendream.engine.runtime import make_runtime
from opendream.engine.workspace import Workspace
from opendream.server.app import create_app
from tests.server_fixtures import BASE, SERVER_OPS, make_app, make_settings

TESTS = Path(__file__).resolve().parent
#: The helper modules that define test ops.
OP_MODULES = ("tests.server_fixtures", "tests.dag_ops", "tests.workflow_fixtures", "tests.original_fixtures")


def _defined_in_tests() -> list[str]:
    """The ops of the global registry that a file under ``tests/`` defines."""
    return sorted(s.name for s in REGISTRY.all_specs() if Path(s.file).resolve().is_relative_to(TESTS))


def test_no_test_op_is_in_the_global_registry() -> None:
    for module in OP_MODULES:
        importlib.import_module(module)
    # With the whole suite every test module is imported by now; alone, the helpers above are.
    assert _defined_in_tests() == []
    assert {"server_test_slow", "server_test_tint"} <= set(SERVER_OPS.ops), "they are in their own"


def test_only_the_apps_of_the_server_tests_list_their_ops(tmp_path: Path) -> None:
    def listed(app: FastAPI) -> set[str]:
        with TestClient(app, base_url=BASE) as client:
            names = {op["name"] for op in client.get("/api/ops").json()["ops"]}
        app.state.opendream.workspace.close()
        return names

    settings = make_settings(tmp_path / "plain")
    plain = Workspace(settings, runtime=make_runtime(settings, load_models=False))
    plain_ops = listed(create_app(settings, workspace=plain))
    assert "flatten" in plain_ops and not {n for n in plain_ops if n.startswith("server_test_")}
    assert {"flatten", "server_test_slow"} <= listed(make_app(tmp_path / "tests"))
