#!/bin/sh
# Regenerates what the web UI takes from the server: its API types (api/schema.d.ts, by
# openapi-typescript from the app's OpenAPI document; installed by scripts/setup.sh with `npm ci` in
# frontend/tools/openapi-types) and the op schemas its tests use (test/op_schemas.json, as
# GET /api/ops sends them). tests/test_api_types.py fails when the committed files are stale.
#   sh scripts/api_types.sh [DIR]    (default: frontend/src)
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
out=${1:-frontend/src}
mkdir -p "$out/api" "$out/test"
doc=$(mktemp "${TMPDIR:-/tmp}/opendream-openapi.XXXXXX")
trap 'rm -f "$doc"' EXIT

PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} "$PYTHON" - "$doc" "$out/test/op_schemas.json" <<'PY'
import json, sys, tempfile
from pathlib import Path
from opendream.server.app import create_app
from opendream.settings import Settings

TEST_OPS = ("flatten", "mask_and_inpaint", "dream", "feather_mask", "load_image")
with tempfile.TemporaryDirectory() as data_dir:
    app = create_app(Settings(data_dir=Path(data_dir), device="cpu"))
    registry = app.state.opendream.workspace.registry
    ops = {name: registry.get(name).schema() for name in TEST_OPS}
    Path(sys.argv[1]).write_text(json.dumps(app.openapi(), indent=1))
    Path(sys.argv[2]).write_text(json.dumps(ops, indent=1) + "\n")
    app.state.opendream.workspace.close()
PY

node frontend/tools/openapi-types/node_modules/openapi-typescript/bin/cli.js "$doc" \
    --output "$out/api/schema.d.ts" --default-non-nullable false --silent
