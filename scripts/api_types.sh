#!/bin/sh
# Regenerates the web UI's API types from the server's OpenAPI document: the app's openapi()
# dumped to JSON, then openapi-typescript (installed by `npm ci` in frontend/, see
# frontend/tools/openapi-types). tests/test_api_types.py fails when the committed file is stale.
#   sh scripts/api_types.sh [OUT]    (default: frontend/src/api/schema.d.ts)
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
out=${1:-frontend/src/api/schema.d.ts}
doc=$(mktemp "${TMPDIR:-/tmp}/opendream-openapi.XXXXXX")
trap 'rm -f "$doc"' EXIT

PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} "$PYTHON" - "$doc" <<'PY'
import json, sys, tempfile
from pathlib import Path
from opendream.server.app import create_app
from opendream.settings import Settings

with tempfile.TemporaryDirectory() as data_dir:
    document = create_app(Settings(data_dir=Path(data_dir), device="cpu")).openapi()
Path(sys.argv[1]).write_text(json.dumps(document, indent=1))
PY

node frontend/tools/openapi-types/node_modules/openapi-typescript/bin/cli.js "$doc" --output "$out" --default-non-nullable false --silent
