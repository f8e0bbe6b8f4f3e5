#!/bin/sh
# Set up (idempotent), then every test suite. Exits non-zero on any failure.
set -eu
cd "$(dirname "$0")"
sh ./scripts/setup.sh

if ! command -v chromium >/dev/null 2>&1; then
    echo "==> installing Chromium for the browser tests"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq chromium >/dev/null
fi

echo "==> ruff"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench

if [ -f frontend/package.json ]; then
    echo "==> frontend unit tests"
    (cd frontend && npm test --silent)
fi

echo "==> pytest"
# Pinned threads: some ops differ by a pixel level between thread counts, and tests compare hashes.
OMP_NUM_THREADS=2 .venv/bin/python -m pytest --durations=20 --ignore=tests/test_openvino.py "$@"
# OpenVINO's native module, once imported, breaks click's output capture in the CLI tests that
# run after it in the same process (the process dies writing to a closed stream): its own run.
echo "==> pytest (OpenVINO)"
OMP_NUM_THREADS=2 .venv/bin/python -m pytest tests/test_openvino.py
