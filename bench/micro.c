/* Kernel micro-benchmarks behind figures in BENCHMARKS.md and comments in core/cpu:
 *   - the level-2 packed-weights kernels against what level 0 runs: the convolution on
 *     prepacked weights (pconv.c) against kn_cpu_conv2d_fwd, the GEMM on prepacked weights
 *     (pgemm.c) against kn_cpu_gemm (OpenBLAS, split across the threads by kiln);
 *   - kiln's convolution forward (kn_cpu_conv2d_fwd) on resnet_small's shapes at batch 64
 *     and LeNet's conv2 at batch 1:
 *     the direct kernel, the same call through im2col + GEMM (KILN_CONV_DIRECT=0), and
 *     OpenBLAS running just that path's GEMMs (a lower bound for it);
 *   - OpenBLAS sgemm with B transposed (NT, as exporters write Linear layers) and plain
 *     (NN, as pretranspose_gemm stores constant weights), one thread, at the MLP's shapes.
 * `make micro` builds and runs it; threads from OMP_NUM_THREADS (default: all). */
#include "core/cpu/cpu.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void openblas_set_num_threads(int num_threads);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *filled(size_t n, int mod)
{
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!p) exit(1);
    for (size_t i = 0; i < n; i++) p[i] = (float)(i % (size_t)mod) * 0.1f;
    return p;
}

/* A square k x k convolution over hw x hw images, padding and stride on both axes. */
static kn_conv2d_desc square_conv(int n, int c, int oc, int hw, int k, int stride, int pad)
{
    const int o = (hw + 2 * pad - k) / stride + 1;
    return (kn_conv2d_desc){.n = n, .c = c, .h = hw, .w = hw, .oc = oc, .kh = k, .kw = k, .oh = o, .ow = o,
                            .stride_h = stride, .stride_w = stride, .pad_t = pad, .pad_l = pad, .pad_b = pad,
                            .pad_r = pad, .dil_h = 1, .dil_w = 1, .group = 1};
}

static void conv(int n, int c, int oc, int hw, int k, int stride, int pad)
{
    const kn_conv2d_desc d = square_conv(n, c, oc, hw, k, stride, pad);
    const int o = (int)d.oh;
    float *x = filled((size_t)n * c * hw * hw, 13), *w = filled((size_t)oc * c * k * k, 7);
    float *y = filled((size_t)n * oc * o * o, 3);
    void *ws = aligned_alloc(64, (kn_cpu_conv2d_workspace(&d) + 63) / 64 * 64 + 64);
    const int it = n > 1 ? 30 : 3000;
    for (int i = 0; i < 3; i++) kn_cpu_conv2d_fwd(&d, x, w, y, NULL, ws);
    double t0 = now();
    for (int i = 0; i < it; i++) kn_cpu_conv2d_fwd(&d, x, w, y, NULL, ws);
    const double us = (now() - t0) / it * 1e6, flop = 2.0 * n * oc * o * o * c * k * k;
    setenv("KILN_CONV_DIRECT", "0", 1); /* the same call through im2col + GEMM */
    kn_cpu_conv2d_fwd(&d, x, w, y, NULL, ws);
    t0 = now();
    for (int i = 0; i < it; i++) kn_cpu_conv2d_fwd(&d, x, w, y, NULL, ws);
    const double ius = (now() - t0) / it * 1e6;
    unsetenv("KILN_CONV_DIRECT");
    /* the GEMMs alone of im2col + GEMM: [oc x c*k*k] x [c*k*k x o*o] per image, images split
     * across the threads with single-threaded sgemm (as conv.c does) */
    float *col = filled((size_t)omp_get_max_threads() * c * k * k * o * o, 5);
    t0 = now();
    for (int i = 0; i < it; i++) {
#pragma omp parallel for schedule(static)
        for (int b = 0; b < n; b++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, oc, o * o, c * k * k, 1.0f, w, c * k * k,
                        col + (size_t)omp_get_thread_num() * c * k * k * o * o, o * o, 0.0f,
                        y + (size_t)b * oc * o * o, o * o);
    }
    const double gus = (now() - t0) / it * 1e6;
    printf("conv n=%d %d->%d %dx%d k=%d s=%d, %d threads: direct %7.1f us %5.1f GFLOP/s | im2col+GEMM %7.1f us %5.1f "
           "| its GEMMs alone %7.1f us %5.1f\n", n, c, oc, hw, hw, k, stride, omp_get_max_threads(), us, flop / us / 1e3,
           ius, flop / ius / 1e3, gus, flop / gus / 1e3);
    free(x); free(w); free(y); free(ws); free(col);
}

static double gemm(int tb, int m, int n, int k)
{
    float *a = filled((size_t)m * k, 7), *b = filled((size_t)n * k, 5), *c = filled((size_t)m * n, 3);
    const int it = 2000;
    for (int i = 0; i < 200; i++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, k, b, tb ? k : n,
                    0.0f, c, n);
    double t0 = now();
    for (int i = 0; i < it; i++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, k, b, tb ? k : n,
                    0.0f, c, n);
    const double us = (now() - t0) / it * 1e6;
    free(a); free(b); free(c);
    return us;
}

/* The convolution forward on prepacked weights against kn_cpu_conv2d_fwd (level 0's call). */
static void packed_conv(int n, int c, int oc, int hw, int k, int stride, int pad)
{
    const kn_conv2d_desc d = square_conv(n, c, oc, hw, k, stride, pad);
    const int o = (int)d.oh;
    const int64_t floats = kn_cpu_conv2d_packed_floats(&d);
    if (floats <= 0) {
        printf("packed conv n=%d %d->%d: not handled by the packed kernel\n", n, c, oc);
        return;
    }
    float *x = filled((size_t)n * c * hw * hw, 13), *w = filled((size_t)oc * c * k * k, 7);
    float *y = filled((size_t)n * oc * o * o, 3), *pk = filled((size_t)floats, 1);
    void *ws = aligned_alloc(64, (kn_cpu_conv2d_workspace(&d) + 63) / 64 * 64 + 64);
    if (kn_cpu_conv2d_pack_w(&d, w, pk) != KN_OK) exit(1);
    const int it = n > 1 ? 30 : 3000;
    double best_p = 1e30, best_u = 1e30;
    for (int r = 0; r < 5; r++) { /* alternate, best of 5 */
        double t0 = now();
        for (int i = 0; i < it; i++) kn_cpu_conv2d_fwd_packed(&d, x, pk, y, NULL, NULL, ws);
        const double pus = (now() - t0) / it * 1e6;
        t0 = now();
        for (int i = 0; i < it; i++) kn_cpu_conv2d_fwd(&d, x, w, y, NULL, ws);
        const double uus = (now() - t0) / it * 1e6;
        if (pus < best_p) best_p = pus;
        if (uus < best_u) best_u = uus;
    }
    const double flop = 2.0 * n * oc * o * o * c * k * k;
    printf("conv n=%2d %2d->%2d %2dx%2d k=%d s=%d: packed %7.1f us %5.1f GFLOP/s | conv2d_fwd %7.1f us %5.1f\n", n, c,
           oc, hw, hw, k, stride, best_p, flop / best_p / 1e3, best_u, flop / best_u / 1e3);
    free(x); free(w); free(y); free(pk); free(ws);
}

/* Convolution + ReLU + 2x2 stride-2 max pool on prepacked weights: pooled in the kernel's
 * registers (kn_conv_extra.pool2x2) against the packed convolution into a buffer, then
 * the MaxPool kernel (what the fused op did before). */
static void packed_conv_pool(int n, int c, int oc, int hw, int k)
{
    const kn_conv2d_desc d = square_conv(n, c, oc, hw, k, 1, 0);
    const int o = (int)d.oh, po = o / 2;
    float *x = filled((size_t)n * c * hw * hw, 13), *w = filled((size_t)oc * c * k * k, 7), *b = filled((size_t)oc, 2);
    float *conv = filled((size_t)n * oc * o * o, 3), *y = filled((size_t)n * oc * po * po, 3);
    float *pk = filled((size_t)kn_cpu_conv2d_packed_floats(&d), 1);
    void *ws = aligned_alloc(64, (kn_cpu_conv2d_workspace(&d) + 63) / 64 * 64 + 64);
    if (kn_cpu_conv2d_pack_w(&d, w, pk) != KN_OK) exit(1);
    const kn_pool2d_desc pd = {.n = n, .c = oc, .h = o, .w = o, .oh = po, .ow = po, .kh = 2, .kw = 2, .stride_h = 2,
                               .stride_w = 2, .dil_h = 1, .dil_w = 1};
    const kn_epilogue ep = {.bias = b, .bias_per_row = true, .act = KN_ACT_RELU};
    const kn_conv_extra pool = {.pool2x2 = true};
    const int it = n > 1 ? 30 : 3000;
    double best_f = 1e30, best_s = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        for (int i = 0; i < it; i++) kn_cpu_conv2d_fwd_packed(&d, x, pk, y, &ep, &pool, ws);
        const double fus = (now() - t0) / it * 1e6;
        t0 = now();
        for (int i = 0; i < it; i++) {
            kn_cpu_conv2d_fwd_packed(&d, x, pk, conv, &ep, NULL, ws);
            kn_cpu_maxpool2d_fwd(&pd, conv, y, NULL);
        }
        const double sus = (now() - t0) / it * 1e6;
        if (fus < best_f) best_f = fus;
        if (sus < best_s) best_s = sus;
    }
    printf("conv+relu+pool2x2 n=%2d %2d->%2d %2dx%2d k=%d: pooled in registers %7.1f us | conv then pool %7.1f us\n", n, c,
           oc, hw, hw, k, best_f, best_s);
    free(x); free(w); free(b); free(conv); free(y); free(pk); free(ws);
}

/* Y[m, n] = X[m, k] W^T + bias, ReLU: kn_cpu_gemm (OpenBLAS, transB as exported and
 * plain as pretranspose_gemm stores it) against the packed kernel. */
static void packed_gemm(int m, int k, int n)
{
    float *a = filled((size_t)m * k, 7), *b = filled((size_t)n * k, 5), *c = filled((size_t)m * n, 3);
    float *bias = filled((size_t)n, 2), *pk = filled((size_t)kn_cpu_gemm_packed_floats(k, n), 1);
    if (kn_cpu_gemm_pack_b(false, k, n, b, n, pk) != KN_OK) exit(1);
    const kn_epilogue ep = {.bias = bias, .act = KN_ACT_RELU};
    const int it = 3000;
    double best[3] = {1e30, 1e30, 1e30};
    for (int r = 0; r < 5; r++)
        for (int v = 0; v < 3; v++) {
            const double t0 = now();
            for (int i = 0; i < it; i++) {
                if (v == 2) kn_cpu_gemm_packed(m, n, k, 1.0f, a, k, pk, 0.0f, c, n, &ep);
                else kn_cpu_gemm(false, v == 0, m, n, k, 1.0f, a, k, b, v == 0 ? k : n, 0.0f, c, n, &ep);
            }
            const double us = (now() - t0) / it * 1e6;
            if (us < best[v]) best[v] = us;
        }
    const double flop = 2.0 * m * n * k;
    printf("gemm+bias+relu %2d x %3d -> %3d: packed %6.2f us %5.1f GFLOP/s | OpenBLAS NT %6.2f %5.1f | NN %6.2f %5.1f\n",
           m, k, n, best[2], flop / best[2] / 1e3, best[0], flop / best[0] / 1e3, best[1], flop / best[1] / 1e3);
    free(a); free(b); free(c); free(bias); free(pk);
}

int main(void)
{
    printf("level 2's packed kernels against level 0's, %d threads (best of 5 alternating runs)\n", omp_get_max_threads());
    packed_conv(64, 16, 16, 28, 3, 1, 1);
    packed_conv(64, 32, 32, 14, 3, 1, 1);
    packed_conv(64, 16, 32, 28, 3, 2, 1);
    packed_conv(64, 16, 32, 28, 1, 2, 0);
    packed_conv(64, 6, 16, 14, 5, 1, 0); /* LeNet's conv2 (its 14x14 input) */
    packed_conv(1, 16, 16, 28, 3, 1, 1);
    packed_conv(1, 32, 32, 14, 3, 1, 1);
    packed_conv_pool(64, 6, 16, 14, 5); /* LeNet's conv2 + pool */
    packed_conv_pool(1, 6, 16, 14, 5);
    packed_gemm(64, 784, 128);
    packed_gemm(64, 128, 64);
    packed_gemm(64, 400, 120);
    packed_gemm(64, 120, 84);
    printf("kiln's conv2d_fwd (direct = its own kernels) against im2col + OpenBLAS:\n");
    conv(64, 16, 16, 28, 3, 1, 1);
    conv(64, 32, 32, 14, 3, 1, 1);
    conv(64, 16, 32, 28, 3, 2, 1);
    conv(1, 6, 16, 14, 5, 1, 0); /* LeNet's conv2: 10-wide rows */
    openblas_set_num_threads(1);
    static const int shapes[][3] = {{784, 128, 0}, {400, 120, 0}, {128, 64, 0}, {64, 10, 0}};
    static const int ms[] = {1, 8, 16, 64};
    printf("sgemm, one thread, us: M x (K -> N), B transposed (NT) vs plain (NN)\n");
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (size_t i = 0; i < sizeof ms / sizeof *ms; i++) {
            const int m = ms[i], k = shapes[s][0], n = shapes[s][1];
            printf("  M=%2d %3d -> %3d: NT %7.2f  NN %7.2f\n", m, k, n, gemm(1, m, n, k), gemm(0, m, n, k));
        }
    return 0;
}
