#!/usr/bin/env python3
"""Referee for kiln's ONNX export.

usage: check_export.py MODEL.onnx --inputs in0.pb [in1.pb ...] --outputs out0.pb [out1.pb ...]
                       [--rtol 1e-4] [--atol 1e-5]

Runs onnx.checker.check_model(full_check=True) on MODEL, then ONNX Runtime on
the TensorProto inputs, and compares its outputs with kiln's (TensorProto files,
e.g. written by `kiln run`), in graph-output order. Exit status: 0 all good,
1 the model or an output is wrong, 2 bad usage or missing packages.
"""
import argparse
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--inputs", nargs="*", default=[])
    ap.add_argument("--outputs", nargs="+", required=True)
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--atol", type=float, default=1e-5)
    args = ap.parse_args()
    try:
        import numpy as np
        import onnx
        import onnx.numpy_helper as nh
        import onnxruntime as ort
    except ImportError as e:
        print(f"check_export: {e} (make venv)", file=sys.stderr)
        return 2

    def load_tensor(path):
        t = onnx.TensorProto()
        with open(path, "rb") as f:
            t.ParseFromString(f.read())
        return nh.to_array(t)

    model = onnx.load(args.model)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:  # the checker raises several types
        print(f"check_export: {args.model}: onnx.checker: {e}", file=sys.stderr)
        return 1
    sess = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    if len(names) != len(args.inputs):
        print(f"check_export: model has {len(names)} inputs, {len(args.inputs)} given", file=sys.stderr)
        return 2
    feeds = {n: load_tensor(p) for n, p in zip(names, args.inputs)}
    got = sess.run(None, feeds)
    if len(got) != len(args.outputs):
        print(f"check_export: ORT gave {len(got)} outputs, {len(args.outputs)} kiln outputs given", file=sys.stderr)
        return 1
    ok = True
    for k, (ref, path) in enumerate(zip(got, args.outputs)):
        mine = load_tensor(path)
        if ref.shape != mine.shape or ref.dtype != mine.dtype:
            print(f"output {k}: ORT {ref.dtype}{list(ref.shape)} vs kiln {mine.dtype}{list(mine.shape)}", file=sys.stderr)
            ok = False
            continue
        if np.issubdtype(ref.dtype, np.floating):
            close = np.allclose(mine, ref, rtol=args.rtol, atol=args.atol, equal_nan=True)
            err = float(np.max(np.abs(mine.astype(np.float64) - ref))) if ref.size else 0.0
        else:
            close = np.array_equal(mine, ref)
            err = 0.0 if close else float("nan")
        print(f"output {k} ({sess.get_outputs()[k].name}): {'ok' if close else 'MISMATCH'}, max abs diff {err:.3g}")
        ok &= bool(close)
    print(f"check_export: {args.model}: {'passed' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
