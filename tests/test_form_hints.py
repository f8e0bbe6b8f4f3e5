"""The form hints and the source flag the web UI reads from ``/api/ops``: the UI chooses widgets
and source-op behaviour from them alone, never from an op's or a parameter's name, so the
built-in and bundled ops have to declare them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.server_fixtures import BASE, make_app


def _walk(schema: Any) -> list[dict[str, Any]]:
    """Every subschema (dict) in ``schema``."""
    if isinstance(schema, dict):
        return [schema, *(s for value in schema.values() for s in _walk(value))]
    if isinstance(schema, list):
        return [s for item in schema for s in _walk(item)]
    return []


def _ops(tmp_path: Path) -> dict[str, dict[str, Any]]:
    app = make_app(tmp_path / "data")
    with TestClient(app, base_url=BASE) as client:
        ops = client.get("/api/ops").json()["ops"]
    app.state.opendream.workspace.close()
    return {op["name"]: op for op in ops}


def test_the_built_in_ops_declare_the_widgets_their_forms_need(tmp_path: Path) -> None:
    ops = _ops(tmp_path)
    assert {"dream", "img2img", "mask_and_inpaint", "controlnet_canny"} <= ops.keys()
    for name, op in ops.items():
        if op["extension"] is None:  # the test suite's own ops, defined outside any extension
            continue
        assert not any("widget" in s and isinstance(s["widget"], str) for s in _walk(op["schema"])), name
        for param, prop in op["schema"]["properties"].items():
            widget = prop.get("x-opendream-widget")
            if param == "seed":
                assert widget == "seed", (name, param)
            elif "prompt" in param and prop.get("type") == "string":
                assert widget == "textarea", (name, param)


def test_source_ops_are_those_of_the_source_category(tmp_path: Path) -> None:
    ops = _ops(tmp_path)
    assert {name: op["source"] for name, op in ops.items() if op["source"]} == {
        "load_image": "image",
        "paint": "image",
        "paint_mask": "mask",
    }
    assert all((op["category"] == "source") == (op["source"] is not None) for op in ops.values())
