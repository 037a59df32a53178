#!/usr/bin/python3
"""PyTorch side of kiln's training-speed benchmark (peer numbers).

Trains the MLP or LeNet of bench/torch_models.py (the models of kiln's training
fixtures) on MNIST-format IDX data with Adam and cross-entropy, printing one line
per epoch.  Needs torch (e.g. Debian's /usr/bin/python3).

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_train.py --model lenet \
        --epochs 1 --batch 64 --lr 1e-3 --data /usr/share/datasets/fashion-mnist --threads 1 --json

--data holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
t10k-labels-idx1-ubyte (each optionally .gz).  Pixels are scaled to [0,1]; no other
normalisation.  Each epoch shuffles the training set (seeded), trains over all of it
(the last batch may be partial) in train() mode; "seconds" times only that loop,
"loss" is the mean training loss over the epoch's samples, and "test_accuracy" is
measured afterwards in eval() mode (not timed).  With --json the last stdout line is
{"model", "epochs": [{"epoch","seconds","samples_per_second","loss","test_accuracy"}],
 "test_accuracy"} and the per-epoch lines go to stderr.
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402


def read_idx(path):
    """Read an IDX file (optionally gzipped) into a numpy array."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = data[0] * 256 + data[1], data[2], data[3]
    if zero != 0 or dtype_code != 0x08:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    off = 4 + 4 * ndim
    return np.frombuffer(data, dtype=np.uint8, offset=off, count=int(np.prod(dims))).reshape(dims)


def load_split(data_dir, prefix):
    x = read_idx(os.path.join(data_dir, "%s-images-idx3-ubyte" % prefix))
    y = read_idx(os.path.join(data_dir, "%s-labels-idx1-ubyte" % prefix))
    x = torch.from_numpy(x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    y = torch.from_numpy(y.astype(np.int64))
    return x, y


def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def main():
    ap = argparse.ArgumentParser(description="PyTorch MLP/LeNet training benchmark")
    ap.add_argument("--model", default="mlp",
                    help="mlp or lenet, or a comma-separated list (one JSON line per model and round)")
    ap.add_argument("--rounds", type=int, default=1, help="train each model this many times, from scratch")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--data", required=True, help="directory with the IDX files")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0,
                    help="use only the first N training samples (0 = all)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--device", default="cpu",
                    help="cpu or cuda; on cuda the whole dataset is put on the GPU first")
    ap.add_argument("--lazy-loss", action="store_true",
                    help="sum the loss on the device and read it once per epoch (no per-step sync)")
    args = ap.parse_args()
    dev = torch.device(args.device)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    xtr, ytr = load_split(args.data, "train")
    xte, yte = load_split(args.data, "t10k")
    if args.limit:
        xtr, ytr = xtr[:args.limit], ytr[:args.limit]
    n = len(xtr)
    xtr, ytr, xte, yte = xtr.to(dev), ytr.to(dev), xte.to(dev), yte.to(dev)

    log = sys.stderr if args.json else sys.stdout
    for name in args.model.split(","):
        if name not in torch_models.MODELS:
            ap.error("unknown model %r" % name)
        for _ in range(args.rounds):
            train_once(args, name, dev, sync, log, xtr, ytr, xte, yte)


def train_once(args, name, dev, sync, log, xtr, ytr, xte, yte):
    n = len(xtr)
    model = torch_models.MODELS[name]().to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(args.seed)
    print("torch %s, %d threads, %s, model %s, %d train / %d test samples, batch %d, lr %g"
          % (torch.__version__, torch.get_num_threads(),
             torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu", name, n, len(xte),
             args.batch, args.lr), file=log)

    epochs = []
    acc = 0.0
    for epoch in range(1, args.epochs + 1):
        perm = torch.randperm(n, generator=gen).to(dev)
        xs, ys = xtr[perm], ytr[perm]  # shuffle outside the timed loop
        model.train()
        total = torch.zeros((), device=dev) if args.lazy_loss else 0.0
        sync()
        t0 = time.perf_counter()
        for i in range(0, n, args.batch):
            xb, yb = xs[i:i + args.batch], ys[i:i + args.batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            if args.lazy_loss:
                total += loss.detach() * len(xb)
            else:
                total += loss.item() * len(xb)
        sync()
        secs = time.perf_counter() - t0
        total = float(total)
        acc = evaluate(model, xte, yte)
        rec = {"epoch": epoch, "seconds": round(secs, 4),
               "samples_per_second": round(n / secs, 1),
               "loss": round(total / n, 6), "test_accuracy": round(acc, 4)}
        epochs.append(rec)
        print("epoch %d: %.2f s, %.0f samples/s, loss %.4f, test accuracy %.4f"
              % (epoch, secs, n / secs, total / n, acc), file=log)
        log.flush()
    if args.json:
        print(json.dumps({"model": name, "framework": "pytorch", "device": str(dev),
                          "lazy_loss": args.lazy_loss,
                          "torch_version": torch.__version__, "threads": args.threads,
                          "batch": args.batch, "lr": args.lr, "train_samples": n,
                          "epochs": epochs, "test_accuracy": round(acc, 4)}))



if __name__ == "__main__":
    main()
