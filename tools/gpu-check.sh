#!/bin/bash
# The GPU checks and benchmarks, in one run on a machine with an NVIDIA GPU, the CUDA
# libraries and PyTorch, from the repository root, over the bundle that
# tools/gpu-bundle.sh made (.gpu/, data/mnist/). Each step has a time limit and the
# whole run a deadline (KILN_GPU_BUDGET seconds, default 420); steps that would not
# fit are skipped and say so. Logs and results go to $OUT (default /tmp/kiln-gpu):
#   gpu.log        everything printed
#   summary.txt    one line per step: rc and seconds
#   bench.jsonl    training and inference figures, kiln and PyTorch, one JSON per line
#   conformance_cuda.txt   the ONNX backend cases that are not passes on CUDA
# KILN_GPU_STEPS=tests,cli,conformance,train,torchtrain,accuracy,infer,profile,sanitize picks steps;
# KILN_GPU_ROUNDS (default 2) training epochs timed per framework and model;
# KILN_GPU_SANITIZE (default 'cuda*/*') the test filter compute-sanitizer runs;
# PYTHON (default python3) the interpreter with PyTorch and onnx.
# The runs behind BENCHMARKS.md's GPU section:
#   KILN_GPU_ROUNDS=3 KILN_GPU_BUDGET=360 bash tools/gpu-check.sh                (run 3)
#   KILN_GPU_STEPS=tests,cli,train,torchtrain,sanitize KILN_GPU_ROUNDS=4 \
#       KILN_GPU_SANITIZE='cuda_session/*' KILN_GPU_BUDGET=200 bash tools/gpu-check.sh  (run 4)
set -u
OUT=${OUT:-/tmp/kiln-gpu}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu.log") 2>&1
T0=$(date +%s)
BUDGET=${KILN_GPU_BUDGET:-420}
STEPS=${KILN_GPU_STEPS:-tests,cli,conformance,train,torchtrain,accuracy,infer,profile,sanitize}
PY=${PYTHON:-python3}
G=$PWD/.gpu
SUM=$OUT/summary.txt
JL=$OUT/bench.jsonl
: >"$SUM"

left() { echo $((BUDGET - ($(date +%s) - T0))); }
want() { case ",$STEPS," in *",$1,"*) return 0 ;; esac; return 1; }
# step NAME LIMIT CMD...: run with a time limit unless the deadline is nearer.
step() {
    local name=$1 limit=$2
    shift 2
    if [ "$(left)" -lt 30 ]; then
        echo "=== $name: skipped, $(left) s left" | tee -a "$SUM" >&2
        return 99
    fi
    [ "$(left)" -lt "$limit" ] && limit=$(left)
    echo "=== $name (limit ${limit} s)" >&2
    local s rc
    s=$(date +%s.%N)
    timeout -k 5 "$limit" "$@"
    rc=$?
    printf '=== %-48s rc %3d  %6.1f s\n' "$name" "$rc" "$(awk "BEGIN{print $(date +%s.%N) - $s}")" | tee -a "$SUM" >&2
    return $rc
}

# ---- environment ----
mkdir -p /tmp/kiln-gpu-pkg
tar xJf "$G/pkg.tar.xz" -C /tmp/kiln-gpu-pkg
P=/tmp/kiln-gpu-pkg/pkg
libdir() { find /usr/local /usr/lib /opt -name "$1" 2>/dev/null | head -1 | xargs -r dirname; }
CUDNN=$(libdir 'libcudnn.so.9')
CUBLAS=$(libdir 'libcublasLt.so.13')
export LD_LIBRARY_PATH="$P/lib:${CUDNN}:${CUBLAS}:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
KILN=$P/bin/kiln
TESTS=$P/bin/kiln_tests
echo "cudnn from: $CUDNN; cublas from: $CUBLAS"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1
grep -m1 'model name' /proc/cpuinfo; nproc
env -u LD_LIBRARY_PATH $PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1
if ldd "$TESTS" | grep 'not found'; then echo "missing libraries: see above"; fi

# the test binary, verbose, without the lines for tests the filter left out
tests=$P/bin/tests
printf '#!/bin/bash\n"%s" --verbose "$@" 2>&1 | grep -v -e "Test is disabled" -e "^.====. Running"\nexit ${PIPESTATUS[0]}\n' "$TESTS" >"$tests"
chmod +x "$tests"

# PyTorch (and onnx) with their own cuDNN: the path set for kiln's libraries is left out
TPY="env -u LD_LIBRARY_PATH $PY"

# ---- correctness ----
if want tests; then
    step "cuda kernels vs cpu twins" 120 "$tests" --filter 'cuda/*'
    step "cuda sessions vs cpu (models, training)" 150 "$tests" --filter 'cuda_session/*'
    step "training step on cuda vs pytorch" 60 "$tests" --filter 'train_step/*cuda*'
    step "mlp, lenet learn on cuda (e2e)" 150 "$tests" --filter 'e2e/*cuda*'
fi

# ---- the CLI: kiln run --device cuda on the model fixtures (PyTorch's outputs) ----
if want cli; then
    for m in mlp lenet_bn resnet_small dwsep; do
        d=tests/data/models/${m}_op13/test_data_set_0
        for lvl in 0 2; do
            rm -rf "$OUT/run" && mkdir -p "$OUT/run"
            step "kiln run $m --device cuda -O$lvl" 30 "$KILN" run "tests/data/models/${m}_op13/model.onnx" \
                -i $d/input_0.pb -o "$OUT/run" --device cuda -O $lvl &&
                step "  output matches PyTorch's" 30 $TPY -c "
import numpy as np, onnx, onnx.numpy_helper as nh, sys
a = nh.to_array(onnx.load_tensor('$OUT/run/output_0.pb')); b = nh.to_array(onnx.load_tensor('$d/output_0.pb'))
err = np.abs(a - b).max() / max(1e-12, np.abs(b).max()); print('max error %.2g of the largest output' % err)
sys.exit(0 if a.shape == b.shape and err < 1e-4 else 1)"
        done
    done
    rm -rf "$OUT/run"
fi

# ---- the ONNX backend cases on CUDA ----
if want conformance && [ -f "$G/onnx-testdata.tar.xz" ]; then
    mkdir -p /tmp/kiln-gpu-otd && tar xJf "$G/onnx-testdata.tar.xz" -C /tmp/kiln-gpu-otd
    export KILN_ONNX_TESTDATA=/tmp/kiln-gpu-otd/data KILN_CONFORMANCE_WRITE_CUDA=$OUT/conformance_cuda.txt
    step "onnx backend cases on cuda" 200 "$tests" --filter 'onnx_conformance/backend_test_data_on_cuda'
fi

# ---- training: kiln against PyTorch on this GPU, one epoch each ----
if want train; then
    for m in mlp lenet; do
        for r in $(seq "${KILN_GPU_ROUNDS:-2}"); do
            step "kiln train $m cuda (round $r)" 120 "$KILN" train --model "$m" --epochs 1 --batch 64 --device cuda \
                --report "$OUT/train_$m.json" && $PY -c "import json,sys; r=json.load(open('$OUT/train_$m.json')); \
e=r['epochs'][0]; print(json.dumps({'what':'train','fw':'kiln','model':'$m','round':$r,'seconds':e['seconds'],\
'samples_per_second':e['samples_per_second'],'test_accuracy':e['test_accuracy']}))" >>"$JL"
        done
    done
    for lazy in "" --lazy-loss; do
        want torchtrain || continue
        step "torch train mlp,lenet cuda x2 $lazy" 150 $TPY bench/torch_train.py --model mlp,lenet --rounds "${KILN_GPU_ROUNDS:-2}" \
            --epochs 1 --batch 64 --data data/mnist --device cuda --json $lazy >"$OUT/t.json"
        $PY -c "import json
for l in open('$OUT/t.json'):
    if l.startswith('{'):
        r = json.loads(l); e = r['epochs'][0]
        print(json.dumps({'what':'train','fw':'torch','lazy_loss':r['lazy_loss'],'model':r['model'],\
'seconds':e['seconds'],'samples_per_second':e['samples_per_second'],'test_accuracy':e['test_accuracy'],\
'torch':r['torch_version']}))" >>"$JL"
    done
    rm -f "$OUT/t.json" "$OUT"/train_*.json
fi

# ---- accuracy: the CPU recipes (MLP 5 epochs, LeNet 3) trained on the GPU, three seeds ----
if want accuracy; then
    for spec in mlp:5 lenet:3; do
        m=${spec%:*} e=${spec#*:}
        for seed in 1 2 3; do
            step "kiln train $m cuda $e epochs seed $seed" 60 "$KILN" train --model "$m" --epochs "$e" --seed $seed \
                --device cuda --report "$OUT/acc.json" && $PY -c "import json; r=json.load(open('$OUT/acc.json')); \
print(json.dumps({'what':'accuracy','fw':'kiln','model':'$m','epochs':$e,'seed':$seed,\
'test_accuracy':r['epochs'][-1]['test_accuracy']}))" >>"$JL"
        done
    done
    rm -f "$OUT/acc.json"
fi

# ---- inference latency, host batch in, device result out ----
if want infer; then
    for m in mlp lenet_bn resnet_small dwsep; do
        for b in 1 64 1024; do
            for lvl in 0 2; do
                step "kiln bench $m b$b -O$lvl" 40 "$KILN" bench "tests/data/models/${m}_op13/model.onnx" --device cuda \
                    --batch "$b" --iters 200 --warmup 30 -O $lvl --json >"$OUT/k.json" &&
                    $PY -c "import json; r=json.loads(open('$OUT/k.json').read().strip().splitlines()[-1]); \
r.update({'what':'infer','fw':'kiln','model':'$m'}); print(json.dumps(r))" >>"$JL"
            done
        done
    done
    step "torch infer (all models and batches)" 120 $TPY bench/torch_infer.py --model mlp,lenet_bn,resnet_small,dwsep \
        --batch 1,64,1024 --iters 200 --warmup 30 --device cuda --json >"$OUT/k.json"
    $PY -c "import json
for l in open('$OUT/k.json'):
    if l.startswith('{'):
        r = json.loads(l); r.update({'what':'infer','fw':'torch'}); print(json.dumps(r))" >>"$JL"
    rm -f "$OUT/k.json"
fi

# ---- profile: fused against unfused kernels ----
if want profile; then
    step "kiln profile lenet_bn cuda -O2" 40 "$KILN" profile tests/data/models/lenet_bn_op13/model.onnx --device cuda \
        --batch 64 --iters 50
    for m in lenet_bn resnet_small; do
        step "kiln bench --compare-levels $m cuda b64" 40 "$KILN" bench \
            tests/data/models/${m}_op13/model.onnx --device cuda --batch 64 --iters 100 --compare-levels
    done
fi

# ---- compute-sanitizer over the kernel tests ----
if want sanitize && command -v compute-sanitizer >/dev/null; then
    step "compute-sanitizer memcheck ${KILN_GPU_SANITIZE:-cuda*/*}" 150 compute-sanitizer --tool memcheck \
        --target-processes all --error-exitcode 9 "$tests" --filter "${KILN_GPU_SANITIZE:-cuda*/*}" --jobs 1
fi

echo "==== summary ($(($(date +%s) - T0)) s)"
cat "$SUM"
[ -f "$JL" ] && cat "$JL"
