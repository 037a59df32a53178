#!/bin/bash
# Pack what tools/gpu-check.sh needs on a GPU machine that has the CUDA toolkit,
# cuDNN and Python with PyTorch but none of kiln's other build dependencies
# (OpenBLAS, protobuf-c, Criterion): a portable CUDA build of the CLI and the test
# binary, the shared libraries they load (except glibc and the CUDA libraries,
# which the GPU machine has), the ONNX backend test data and the training data.
#
#   tools/gpu-bundle.sh            # writes .gpu/ and data/mnist/ (both ignored by git)
#
# The build is -march=x86-64-v3 (AVX2): the GPU machine's CPU is not this one.
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/gpu
make -j"$(nproc)" --no-print-directory BUILD=$B CUDA=1 ARCHFLAGS=-march=x86-64-v3 \
    $B/kiln $B/tests/kiln_tests >/dev/null
rm -rf .gpu && mkdir -p .gpu/pkg/bin .gpu/pkg/lib
cp $B/kiln $B/tests/kiln_tests .gpu/pkg/bin/
# Everything the binaries load but glibc's own libraries and CUDA's.
ldd $B/kiln $B/tests/kiln_tests | awk '/=> \//{print $1, $3}' | sort -u |
    while read -r soname path; do
        case "$soname" in
        libc.so* | libm.so* | libdl.so* | libpthread.so* | librt.so* | libresolv.so* | ld-linux*) ;;
        libcu*) ;;
        *) cp -L "$path" ".gpu/pkg/lib/$soname" ;;
        esac
    done
cp -L /usr/local/cuda/lib64/libcudart.so.* .gpu/pkg/lib/ 2>/dev/null || true
tar cf - -C .gpu pkg | xz -T0 -6 >.gpu/pkg.tar.xz
rm -rf .gpu/pkg
if [ -d /usr/share/libonnx-testdata/data ]; then
    tar cf - -C /usr/share/libonnx-testdata data | xz -T0 -6 >.gpu/onnx-testdata.tar.xz
fi
mkdir -p data/mnist
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    [ -e data/mnist/$f ] || [ -e data/mnist/$f.gz ] || cp /usr/share/datasets/fashion-mnist/$f.gz data/mnist/
done
du -sh .gpu data/mnist
