#!/usr/bin/env python3
"""ONNX Runtime inference-latency benchmark for one model file (kiln's peer numbers).

Needs onnxruntime, onnx and numpy (not torch), e.g. build/venv/bin/python:

    build/venv/bin/python bench/ort_infer.py --model tests/data/models/lenet_bn_op13/model.onnx \
        --batch 1 --iters 1000 --warmup 100 --threads 1 --json

The session uses ORT_ENABLE_ALL graph optimizations, intra_op_num_threads=T,
inter_op_num_threads=1, sequential execution, CPUExecutionProvider (--provider to
change).  The input is seeded uniform [0,1) with the model's first input shape, symbolic
or unknown dims replaced by --batch (dim 0) or 1.  Each sess.run() is timed on its own
with time.perf_counter_ns(); median/p90/p99/mean/min latency is reported in microseconds and
throughput is batch / median latency (samples/s).

The Python-binding overhead is measured the same way on an Identity-only model (built
with onnx.helper) whose input has the same shape and dtype, and reported separately
under "binding_overhead" so callers can subtract it ("median_us_minus_overhead" is
provided for convenience).  With --json one JSON object is printed on the last line.
"""
import argparse
import json
import platform
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper


def np_dtype(elem_type):
    if hasattr(helper, "tensor_dtype_to_np_dtype"):
        return helper.tensor_dtype_to_np_dtype(elem_type)
    from onnx import mapping
    return mapping.TENSOR_TYPE_TO_NP_TYPE[elem_type]


def input_spec(model, batch):
    inits = {i.name for i in model.graph.initializer}
    inp = next(i for i in model.graph.input if i.name not in inits)
    tt = inp.type.tensor_type
    shape = []
    for k, d in enumerate(tt.shape.dim):
        if d.HasField("dim_value") and d.dim_value > 0:
            shape.append(d.dim_value)
        else:
            shape.append(batch if k == 0 else 1)
    if shape and shape[0] != batch:
        raise SystemExit("model %s has a fixed batch dimension %d (asked for %d)"
                         % (inp.name, shape[0], batch))
    return inp.name, tt.elem_type, shape


def identity_model(elem_type, shape):
    x = helper.make_tensor_value_info("x", elem_type, shape)
    y = helper.make_tensor_value_info("y", elem_type, shape)
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "identity", [x], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="kiln-bench")
    m.ir_version = 7  # old enough for any onnxruntime that supports opset 13
    onnx.checker.check_model(m)
    return m.SerializeToString()


def make_session(model_bytes_or_path, threads, provider):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model_bytes_or_path, sess_options=so, providers=[provider])


def time_session(sess, feed, iters, warmup):
    outs = [o.name for o in sess.get_outputs()]
    for _ in range(warmup):
        sess.run(outs, feed)
    t = np.empty(iters, dtype=np.float64)
    for i in range(iters):
        t0 = time.perf_counter_ns()
        sess.run(outs, feed)
        t[i] = time.perf_counter_ns() - t0
    return t / 1000.0  # microseconds


def stats(us, batch):
    med = float(np.median(us))
    return {"median_us": round(med, 3),
            "p90_us": round(float(np.percentile(us, 90)), 3),
            "p99_us": round(float(np.percentile(us, 99)), 3),
            "mean_us": round(float(np.mean(us)), 3),
            "min_us": round(float(np.min(us)), 3),
            "throughput_samples_per_s": round(batch / (med * 1e-6), 1)}


def main():
    ap = argparse.ArgumentParser(description="ONNX Runtime inference latency benchmark")
    ap.add_argument("--model", required=True, help="path to model.onnx")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--iters", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--provider", default="CPUExecutionProvider")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    model = onnx.load(args.model)
    name, elem_type, shape = input_spec(model, args.batch)
    x = np.random.default_rng(args.seed).random(shape).astype(np_dtype(elem_type))

    sess = make_session(args.model, args.threads, args.provider)
    res = stats(time_session(sess, {name: x}, args.iters, args.warmup), args.batch)

    ident = make_session(identity_model(elem_type, shape), args.threads, args.provider)
    ov = stats(time_session(ident, {"x": x}, args.iters, args.warmup), args.batch)
    ov.pop("throughput_samples_per_s")

    out = {"framework": "onnxruntime", "ort_version": ort.__version__,
           "provider": args.provider, "model": args.model, "batch": args.batch,
           "input_shape": shape, "threads": args.threads, "iters": args.iters,
           "warmup": args.warmup, "python": platform.python_version()}
    out.update(res)
    out["binding_overhead"] = ov
    out["median_us_minus_overhead"] = round(res["median_us"] - ov["median_us"], 3)
    if args.json:
        print(json.dumps(out))
    else:
        print("%s batch %d, %d threads (onnxruntime %s): median %.1f us, p90 %.1f us, p99 %.1f us, "
              "%.0f samples/s; Identity (binding overhead) median %.1f us"
              % (args.model, args.batch, args.threads, ort.__version__, res["median_us"],
                 res["p90_us"], res["p99_us"], res["throughput_samples_per_s"], ov["median_us"]))


if __name__ == "__main__":
    main()
