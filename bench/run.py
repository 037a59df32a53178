#!/usr/bin/env python3
"""kiln benchmarks: every figure is a ratio against a peer measured in the same run.

usage: bench/run.py [--kiln build/kiln] [--venv build/venv] [--rounds 2] [--only train|infer]
                    [--threads 2] [--out bench/results.json]

Training (one epoch each, alternating kiln and PyTorch, `rounds` times, median):
  kiln train --model M --epochs 1 --batch 64 --threads T
  PyTorch 1.13 (Debian python3-torch): bench/torch_train.py with torch threads T and
  OPENBLAS_NUM_THREADS=1, its fast configuration on this machine.
Inference (tests/data/models/*_op13, batch 1 and 64):
  kiln bench -O 0 / -O 2 --json; ONNX Runtime (bench/ort_infer.py in the venv, all graph
  optimizations, T intra-op threads; its Python binding overhead is measured on an
  Identity model of the same input and reported, and subtracted in the adjusted ratio);
  PyTorch eager (bench/torch_infer.py, T threads, OPENBLAS_NUM_THREADS=1).
Prints Markdown tables (paste into BENCHMARKS.md) and writes the raw JSON.
"""
import argparse
import json
import re
import os
import platform
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = "/usr/share/datasets/fashion-mnist"
TORCH_PY = "/usr/bin/python3"


def run_json(cmd, env=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run(cmd, capture_output=True, text=True, env=e, cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.strip()[-800:]))
    for line in reversed(p.stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("%s printed no JSON: %s" % (" ".join(cmd), p.stdout[-400:]))


def kiln_train(kiln, model, threads):
    report = "/tmp/kiln_bench_train.json"
    p = subprocess.run([kiln, "train", "--model", model, "--epochs", "1", "--batch", "64", "--threads", str(threads),
                        "--report", report], capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError("kiln train failed: " + p.stderr[-800:])
    r = json.load(open(report))
    ep = r["epochs"][0]
    spin = re.search(r"GOMP_SPINCOUNT (\d+)", p.stderr)  # the wait policy the CLI chose from the load
    return {"samples_per_second": ep["samples_per_second"], "test_accuracy": ep["test_accuracy"], "seconds": ep["seconds"],
            "gomp_spincount": int(spin.group(1)) if spin else None}


def torch_train(model, threads):
    r = run_json([TORCH_PY, os.path.join(HERE, "torch_train.py"), "--model", model, "--epochs", "1", "--batch", "64",
                  "--lr", "1e-3", "--data", DATA, "--threads", str(threads), "--json"], {"OPENBLAS_NUM_THREADS": "1"})
    ep = r["epochs"][0]
    return {"samples_per_second": ep["samples_per_second"], "test_accuracy": ep["test_accuracy"], "seconds": ep["seconds"]}


def bench_train(args, out):
    rows = []
    for model in ("mlp", "lenet"):
        k, t = [], []
        for _ in range(args.rounds):
            k.append(kiln_train(args.kiln, model, args.threads))
            t.append(torch_train(model, args.threads))
        ks = statistics.median(x["samples_per_second"] for x in k)
        ts = statistics.median(x["samples_per_second"] for x in t)
        rows.append((model, ks, ts, ks / ts, k[-1]["test_accuracy"], t[-1]["test_accuracy"]))
        out["train"][model] = {"kiln": k, "pytorch": t}
    print("\n### Training, one epoch of Fashion-MNIST (60k samples), batch 64, Adam, %d threads\n" % args.threads)
    print("| model | kiln samples/s | PyTorch samples/s | kiln / PyTorch | kiln test acc | PyTorch test acc |")
    print("|---|---|---|---|---|---|")
    for m, ks, ts, r, ka, ta in rows:
        print("| %s | %.0f | %.0f | **%.2fx** | %.4f | %.4f |" % (m, ks, ts, r, ka, ta))


def bench_infer(args, out):
    py = os.path.join(args.venv, "bin", "python")
    have_ort = os.path.exists(os.path.join(args.venv, ".ok"))
    rows = []
    for model in ("mlp", "lenet_bn", "resnet_small", "dwsep"):
        path = os.path.join(ROOT, "tests", "data", "models", model + "_op13", "model.onnx")
        for batch in (1, 64):
            iters = 2000 if batch == 1 else 300
            warm = iters // 10
            r = {}
            for lvl in (0, 2):
                r["kiln_O%d" % lvl] = run_json([args.kiln, "bench", path, "--batch", str(batch), "--iters", str(iters),
                                                "--warmup", str(warm), "-O", str(lvl), "--threads", str(args.threads),
                                                "--json"])
            if have_ort:
                r["ort"] = run_json([py, os.path.join(HERE, "ort_infer.py"), "--model", path, "--batch", str(batch),
                                     "--iters", str(iters), "--warmup", str(warm), "--threads", str(args.threads),
                                     "--json"])
            r["torch"] = run_json([TORCH_PY, os.path.join(HERE, "torch_infer.py"), "--model", model, "--batch",
                                   str(batch), "--iters", str(iters), "--warmup", str(warm), "--threads",
                                   str(args.threads), "--json"], {"OPENBLAS_NUM_THREADS": "1"})
            out["infer"]["%s_b%d" % (model, batch)] = r
            rows.append((model, batch, r))
    print("\n### Inference latency, median microseconds per call (%d threads)\n" % args.threads)
    print("| model | batch | kiln O0 | kiln O2 | O0/O2 | ORT | ORT - binding | kiln O2 vs ORT (adj.) | PyTorch eager | kiln O2 vs PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for m, b, r in rows:
        k0, k2 = r["kiln_O0"]["median_us"], r["kiln_O2"]["median_us"]
        t = r["torch"]["median_us"]
        if "ort" in r:
            o = r["ort"]["median_us"]
            oa = r["ort"]["median_us_minus_overhead"]
            ort = "%.1f | %.1f | **%.2fx**" % (o, oa, oa / k2)
        else:
            ort = "n/a | n/a | n/a"
        print("| %s | %d | %.1f | %.1f | %.2fx | %s | %.1f | %.2fx |" % (m, b, k0, k2, k0 / k2, ort, t, t / k2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kiln", default=os.path.join(ROOT, "build", "kiln"))
    ap.add_argument("--venv", default=os.path.join(ROOT, "build", "venv"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", choices=["train", "infer"])
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench-results.json"))
    args = ap.parse_args()
    out = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                       "python": platform.python_version()}, "train": {}, "infer": {}}
    try:
        with open("/proc/cpuinfo") as f:
            out["machine"]["cpu"] = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print("machine: %s, %d cores" % (out["machine"]["cpu"], out["machine"]["cores"]))
    if args.only != "infer":
        bench_train(args, out)
    if args.only != "train":
        bench_infer(args, out)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print("\nraw results: %s" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
