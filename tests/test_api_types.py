"""The web UI's API types (frontend/src/api/schema.d.ts) are generated from the server's OpenAPI
document by scripts/api_types.sh; a change to the API that is not regenerated fails here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "frontend" / "src" / "api" / "schema.d.ts"


def _generate(out: Path) -> str:
    result = subprocess.run(
        ["sh", str(ROOT / "scripts" / "api_types.sh"), str(out)],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"scripts/api_types.sh failed:\n{result.stdout}\n{result.stderr}"
    return out.read_text()


# Only a machine without Node.js at all skips: run_tests.sh always has it (it builds the UI),
# and there a missing generator (no `npm ci` in frontend/) fails like stale types do.
@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_committed_api_types_are_generated_from_the_current_openapi_document(tmp_path: Path) -> None:
    generated = _generate(tmp_path / "schema.d.ts")
    assert generated == COMMITTED.read_text(), (
        "frontend/src/api/schema.d.ts is stale: run `sh scripts/api_types.sh` and commit the result"
    )
    assert _generate(tmp_path / "again.d.ts") == generated, "the generation is not deterministic"
