#!/bin/sh
# Set up (idempotent), then start the server. Arguments pass through to `opendream serve`,
# e.g. `sh ./run_opendream.sh --tiny-models --port 8080`.
set -eu
cd "$(dirname "$0")"
sh ./scripts/setup.sh
exec .venv/bin/opendream serve "$@"
