#!/usr/bin/python3
"""PyTorch eager inference-latency benchmark (kiln's peer numbers).

Uses the model definitions of bench/torch_models.py (the same ones that
tests/data/make_fixtures.py exports to tests/data/models/).  Needs torch:

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_infer.py --model lenet \
        --batch 1 --iters 1000 --warmup 100 --threads 1 --json

--model is a name (mlp, lenet, lenet_bn, lenet_folded, resnet_small, dwsep) or a
path inside tests/data/models/NAME_opK/ (the name is taken from the directory).
The model runs in eval() mode under torch.inference_mode() with
torch.set_num_threads(T); BatchNorm stays a separate op (eager mode does not fold it),
and weights are random (latency does not depend on them).  Each forward call is
timed on its own with time.perf_counter_ns(); median/p90/p99/mean/min latency in
microseconds and throughput = batch / median latency are reported.

--device cuda: the model is on the GPU and each timed call copies the host batch to
the device, runs the model and synchronises (host input to device output, as
`kiln bench --device cuda` times a run).
"""
import argparse
import json
import os
import re
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402


def model_name(arg):
    if os.sep in arg or arg.endswith(".onnx"):
        d = os.path.basename(os.path.dirname(os.path.abspath(arg))) if arg.endswith(".onnx") \
            else os.path.basename(os.path.normpath(arg))
        arg = re.sub(r"_op\d+$", "", d)
    return arg


def main():
    ap = argparse.ArgumentParser(description="PyTorch eager inference latency benchmark")
    ap.add_argument("--model", required=True, help="a model, or a comma-separated list")
    ap.add_argument("--batch", default="1", help="a batch size, or a comma-separated list")
    ap.add_argument("--iters", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    for m in args.model.split(","):
        for b in args.batch.split(","):
            bench_one(args, dev, model_name(m), int(b))


def bench_one(args, dev, name, batch):
    model = torch_models.build(name).eval().to(dev)
    x = torch.rand(batch, 1, 28, 28)
    if dev.type == "cuda":
        def call():
            model(x.to(dev))
            torch.cuda.synchronize()
    else:
        def call():
            model(x)

    with torch.inference_mode():
        for _ in range(args.warmup):
            call()
        t = np.empty(args.iters, dtype=np.float64)
        for i in range(args.iters):
            t0 = time.perf_counter_ns()
            call()
            t[i] = time.perf_counter_ns() - t0
    us = t / 1000.0
    med = float(np.median(us))
    out = {"framework": "pytorch", "torch_version": torch.__version__, "model": name, "device": str(dev),
           "batch": batch, "threads": torch.get_num_threads(), "iters": args.iters,
           "warmup": args.warmup, "median_us": round(med, 3),
           "p90_us": round(float(np.percentile(us, 90)), 3),
           "p99_us": round(float(np.percentile(us, 99)), 3),
           "mean_us": round(float(np.mean(us)), 3), "min_us": round(float(np.min(us)), 3),
           "throughput_samples_per_s": round(batch / (med * 1e-6), 1)}
    if args.json:
        print(json.dumps(out))
    else:
        print("%s batch %d, %d threads (torch %s): median %.1f us, p90 %.1f us, p99 %.1f us, "
              "%.0f samples/s" % (name, batch, out["threads"], torch.__version__, med,
                                  out["p90_us"], out["p99_us"], out["throughput_samples_per_s"]))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
