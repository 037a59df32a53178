#!/bin/sh
# `make demo`: train the MLP on the default data, export ONNX, optimize it,
# evaluate optimized inference on the test split and benchmark it.
# Usage: demo.sh KILN_BIN BUILD_DIR
set -eu
kiln=$1; build=$2
out=$build/demo
mkdir -p "$out"
echo "== kiln demo: train the MLP (3 epochs), export ONNX, run optimized inference"
"$kiln" train --model mlp --epochs 3 --batch 64 --report "$out/report.json" --out "$out/mlp.onnx"
echo
"$kiln" info "$out/mlp.onnx"
echo
"$kiln" optimize "$out/mlp.onnx" -O 2 -o "$out/mlp_O2.onnx"
echo
"$kiln" eval "$out/mlp.onnx" -O 2 --batch 256
echo
"$kiln" bench "$out/mlp.onnx" -O 2 --batch 64 --iters 200 --warmup 20
echo
echo "demo outputs are in $out (report.json, mlp.onnx, mlp_O2.onnx)"
