#!/bin/sh
# `make bench`: kiln against PyTorch and ONNX Runtime, measured side by side.
# Usage: run.sh KILN_BIN BUILD_DIR. Needs Debian's python3-torch for the PyTorch peer
# (installed here if missing) and build/venv for ONNX Runtime (make venv).
set -eu
kiln=$1; build=$2
sh "$(dirname "$0")/../tools/install-deps.sh" python3-torch
exec /usr/bin/python3 "$(dirname "$0")/run.py" --kiln "$kiln" --venv "$build/venv" --out "$build/bench-results.json"
