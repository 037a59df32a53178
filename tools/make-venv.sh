#!/bin/sh
# Create the interop virtualenv (onnx.checker, ONNX Runtime, numpy).
# Usage: make-venv.sh PYTHON VENV_DIR REQUIREMENTS
# Touches VENV_DIR/.ok on success; on failure says why and exits non-zero.
set -u
if [ $# -ne 3 ]; then
    echo "usage: $0 PYTHON VENV_DIR REQUIREMENTS" >&2
    exit 2
fi
python=$1; venv=$2; req=$3
fail() { echo "make-venv: $*" >&2; exit 1; }
[ -f "$req" ] || fail "requirements file '$req' not found"
command -v "$python" >/dev/null 2>&1 || fail "'$python' not found (set PYTHON=)"
rm -f "$venv/.ok"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" ||
        fail "'$python -m venv $venv' failed (on Debian: apt-get install python3-venv)"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" ||
    fail "pip could not install $req into $venv (offline, or no wheel for this Python?)"
"$venv/bin/python" -c "import numpy, onnx, onnxruntime" ||
    fail "the packages installed but do not import"
touch "$venv/.ok"
echo "make-venv: $venv ready"
