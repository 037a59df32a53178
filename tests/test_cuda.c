/* CUDA kernel table against its CPU twin: every implemented KN_CUDA entry runs on
 * random inputs on both tables and the results are compared within float tolerance
 * (backward kernels on pre-filled gradients, since they accumulate). Tests skip with
 * the reason when this machine has no GPU, or when the CPU twin is not in this build
 * yet. Compiles with and without KN_WITH_CUDA. */
#include "helpers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef KN_WITH_CUDA
#define BUILT "with"
#else
#define BUILT "without"
#endif

static const kn_kernels *cpu, *gpu;

static void need_gpu(void)
{
    if (!kn_device_available(KN_CUDA)) cr_skip_test("no CUDA GPU on this machine (kiln built %s CUDA)", BUILT);
    cpu = kn_kernels_get(KN_CPU);
    gpu = kn_kernels_get(KN_CUDA);
}
/* Both tables must have the entry: the CUDA one is ours; the CPU twin may come later. */
#define NEED(fn)                                                                                            \
    do {                                                                                                   \
        need_gpu();                                                                                        \
        if (!cpu->fn) cr_skip_test("CPU twin '" #fn "' is not in this build yet (lands with its op family)"); \
        cr_assert(gpu->fn != NULL, "CUDA table lacks '" #fn "'");                                          \
    } while (0)

/* ---- host/device buffers ---- */

static float *h_rand(size_t n, uint64_t seed, float lo, float hi)
{
    float *p = malloc(n * sizeof *p + 1);
    kn_rng r;
    kn_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) p[i] = lo + (hi - lo) * kn_rng_uniform(&r);
    return p;
}
static void *d_up(const void *h, size_t bytes)
{
    void *d = gpu->alloc(bytes ? bytes : 1);
    cr_assert(d != NULL, "device alloc of %zu bytes failed", bytes);
    T_OK(gpu->memcpy_h2d(d, h, bytes));
    return d;
}
static void *h_down(const void *d, size_t bytes)
{
    void *h = malloc(bytes + 1);
    T_OK(gpu->memcpy_d2h(h, d, bytes));
    return h;
}
/* Compare a device array with a host reference; frees nothing. */
static void check_dev(const float *d, const float *ref, size_t n, double rtol, double atol, const char *what)
{
    float *h = h_down(d, n * sizeof(float));
    double ratio = t_close_ratio(h, ref, (int64_t)n, rtol, atol);
    cr_assert(ratio <= 1.0, "%s: cuda and cpu differ, ratio %g (rtol %g atol %g)", what, ratio, rtol, atol);
    free(h);
}
Test(cuda, unavailable_without_gpu_is_a_clear_error)
{
    if (kn_device_available(KN_CUDA)) cr_skip_test("a CUDA GPU is present; this checks the no-GPU path");
    int64_t shape[2] = {2, 3};
    kn_tensor t;
    kn_status st = kn_tensor_init_on(&t, KN_FLOAT, 2, shape, KN_CUDA);
    cr_assert_eq(st, KN_ERR_DEVICE, "got %s: %s", kn_status_name(st), kn_last_error());
    cr_assert(strstr(kn_last_error(), "cuda") != NULL, "message names the device: %s", kn_last_error());
#ifdef KN_WITH_CUDA
    cr_assert(kn_kernels_get(KN_CUDA) != NULL, "the CUDA table is registered in a CUDA build");
#else
    cr_assert(kn_kernels_get(KN_CUDA) == NULL, "no CUDA table without CUDA");
#endif
}

Test(cuda, tensor_round_trip_and_caching_allocator)
{
    need_gpu();
    int64_t shape[2] = {33, 17};
    kn_tensor h, d, back;
    T_OK(kn_tensor_init(&h, KN_FLOAT, 2, shape));
    t_fill_uniform(&h, 1, -1, 1);
    T_OK(kn_tensor_to(&d, &h, KN_CUDA));
    void *first = d.data;
    T_OK(kn_tensor_to(&back, &d, KN_CPU));
    cr_assert_eq(memcmp(h.data, back.data, kn_tensor_bytes(&h)), 0);
    kn_tensor_release(&d);
    T_OK(kn_tensor_init_on(&d, KN_FLOAT, 2, shape, KN_CUDA));
    cr_assert_eq(d.data, first, "a freed block of the same size class is reused");
    T_OK(gpu->memset0(d.data, kn_tensor_bytes(&d)));
    T_OK(kn_tensor_copy_data(&back, &d));
    for (int i = 0; i < 33 * 17; i++) cr_assert_eq(((float *)back.data)[i], 0.0f);
    kn_tensor_release(&h);
    kn_tensor_release(&d);
    kn_tensor_release(&back);
}

/* ---- gemm ---- */

static void gemm_case(bool ta, bool tb, int m, int n, int k, float beta, const kn_epilogue *ep_in)
{
    float *a = h_rand((size_t)m * k, 11, -1, 1), *b = h_rand((size_t)k * n, 12, -1, 1);
    float *c = h_rand((size_t)m * n, 13, -1, 1), *bias = h_rand((size_t)(m > n ? m : n), 14, -1, 1);
    float *res = h_rand((size_t)m * n, 15, -1, 1);
    float *da = d_up(a, sizeof(float) * m * k), *db = d_up(b, sizeof(float) * k * n);
    float *dc = d_up(c, sizeof(float) * m * n), *dbias = d_up(bias, sizeof(float) * (m > n ? m : n));
    float *dres = d_up(res, sizeof(float) * m * n);
    kn_epilogue hep = *ep_in, dep = *ep_in;
    if (ep_in->bias) { hep.bias = bias; dep.bias = dbias; }
    if (ep_in->residual) { hep.residual = res; dep.residual = dres; }
    const int lda = ta ? m : k, ldb = tb ? k : n;
    T_OK(cpu->gemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, beta, c, n, &hep));
    T_OK(gpu->gemm(ta, tb, m, n, k, 0.5f, da, lda, db, ldb, beta, dc, n, &dep));
    check_dev(dc, c, (size_t)m * n, 1e-4, 1e-4, "gemm");
    gpu->free(da); gpu->free(db); gpu->free(dc); gpu->free(dbias); gpu->free(dres);
    free(a); free(b); free(c); free(bias); free(res);
}

Test(cuda, gemm_with_epilogues)
{
    NEED(gemm);
    const float one = 1; /* non-NULL marker: gemm_case swaps in the real pointers */
    kn_epilogue none = {0}, relu_col = {.bias = &one, .act = KN_ACT_RELU};
    kn_epilogue row_res_clip = {.bias = &one, .bias_per_row = true, .residual = &one, .act = KN_ACT_CLIP, .alpha = 0, .beta = 0.5f};
    kn_epilogue hs = {.residual = &one, .act = KN_ACT_HARDSWISH};
    gemm_case(false, false, 37, 29, 53, 0.0f, &none);
    gemm_case(true, false, 37, 29, 53, 1.0f, &relu_col);
    gemm_case(false, true, 64, 10, 128, 0.5f, &row_res_clip);
    gemm_case(true, true, 5, 7, 3, 0.0f, &hs);
    gemm_case(false, false, 4, 6, 0, 0.5f, &relu_col); /* k == 0: C = beta*C, then the epilogue */
}

/* ---- convolution ---- */

static kn_conv2d_desc conv_desc(int n, int c, int h, int w, int oc, int kh, int kw, int s, int pt, int pl, int pb,
                                int pr, int dil, int group)
{
    kn_conv2d_desc d = {.n = n, .c = c, .h = h, .w = w, .oc = oc, .kh = kh, .kw = kw, .stride_h = s, .stride_w = s,
                        .pad_t = pt, .pad_l = pl, .pad_b = pb, .pad_r = pr, .dil_h = dil, .dil_w = dil, .group = group};
    d.oh = (h + pt + pb - dil * (kh - 1) - 1) / s + 1;
    d.ow = (w + pl + pr - dil * (kw - 1) - 1) / s + 1;
    return d;
}

static void conv_case(kn_conv2d_desc d, bool with_bias)
{
    const size_t nx = d.n * d.c * d.h * d.w, nw = d.oc * (d.c / d.group) * d.kh * d.kw, ny = d.n * d.oc * d.oh * d.ow;
    float *x = h_rand(nx, 21, -1, 1), *w = h_rand(nw, 22, -1, 1), *bias = h_rand(d.oc, 23, -1, 1);
    float *res = h_rand(ny, 24, -1, 1), *y = h_rand(ny, 25, 0, 0), *gy = h_rand(ny, 26, -1, 1);
    float *gx = h_rand(nx, 27, -1, 1), *gw = h_rand(nw, 28, -1, 1), *gb = h_rand(d.oc, 29, -1, 1);
    float *dx = d_up(x, 4 * nx), *dw = d_up(w, 4 * nw), *dbias = d_up(bias, 4 * d.oc), *dres = d_up(res, 4 * ny);
    float *dy = d_up(y, 4 * ny), *dgy = d_up(gy, 4 * ny), *dgx = d_up(gx, 4 * nx), *dgw = d_up(gw, 4 * nw);
    float *dgb = d_up(gb, 4 * d.oc);
    size_t hws = cpu->conv2d_workspace ? cpu->conv2d_workspace(&d) : 0;
    size_t dws_n = gpu->conv2d_workspace ? gpu->conv2d_workspace(&d) : 0;
    void *hws_p = malloc(hws + 64), *dws_p = dws_n ? gpu->alloc(dws_n) : NULL;

    kn_epilogue hep = {.act = KN_ACT_RELU}, dep = hep;
    if (with_bias) { hep.bias = bias; dep.bias = dbias; hep.residual = res; dep.residual = dres; }
    hep.bias_per_row = dep.bias_per_row = true;
    T_OK(cpu->conv2d_fwd(&d, x, w, y, &hep, hws_p));
    T_OK(gpu->conv2d_fwd(&d, dx, dw, dy, &dep, dws_p));
    check_dev(dy, y, ny, 1e-4, 1e-4, "conv2d_fwd");
    if (cpu->conv2d_bwd_data) {
        T_OK(cpu->conv2d_bwd_data(&d, w, gy, gx, hws_p));
        T_OK(gpu->conv2d_bwd_data(&d, dw, dgy, dgx, dws_p));
        check_dev(dgx, gx, nx, 1e-4, 1e-4, "conv2d_bwd_data (accumulating)");
    }
    if (cpu->conv2d_bwd_filter) {
        T_OK(cpu->conv2d_bwd_filter(&d, x, gy, gw, gb, hws_p));
        T_OK(gpu->conv2d_bwd_filter(&d, dx, dgy, dgw, dgb, dws_p));
        check_dev(dgw, gw, nw, 1e-4, 1e-3, "conv2d_bwd_filter (accumulating)");
        check_dev(dgb, gb, d.oc, 1e-4, 1e-3, "conv2d bias gradient (accumulating)");
    }
    /* the second call for the same geometry takes the cached algorithm */
    T_OK(gpu->conv2d_fwd(&d, dx, dw, dy, &dep, dws_p));
    check_dev(dy, y, ny, 1e-4, 1e-4, "conv2d_fwd (cached plan)");
    float *all[] = {dx, dw, dbias, dres, dy, dgy, dgx, dgw, dgb};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) gpu->free(all[i]);
    if (dws_p) gpu->free(dws_p);
    free(hws_p); free(x); free(w); free(bias); free(res); free(y); free(gy); free(gx); free(gw); free(gb);
}

Test(cuda, conv2d)
{
    NEED(conv2d_fwd);
    conv_case(conv_desc(2, 3, 9, 11, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1), true);
    conv_case(conv_desc(2, 4, 12, 10, 6, 3, 3, 2, 0, 0, 1, 1, 1, 2), false);  /* asymmetric (SAME_UPPER), groups */
    conv_case(conv_desc(1, 8, 10, 10, 8, 3, 3, 1, 2, 2, 2, 2, 2, 8), true);   /* depthwise, dilated */
    conv_case(conv_desc(4, 16, 7, 7, 32, 1, 1, 1, 0, 0, 0, 0, 1, 1), true);   /* pointwise */
}

/* ---- pooling ---- */

static kn_pool2d_desc pool_desc(int n, int c, int h, int w, int k, int s, int pt, int pl, int pb, int pr, bool inc)
{
    kn_pool2d_desc d = {.n = n, .c = c, .h = h, .w = w, .kh = k, .kw = k, .stride_h = s, .stride_w = s, .pad_t = pt,
                        .pad_l = pl, .pad_b = pb, .pad_r = pr, .dil_h = 1, .dil_w = 1, .count_include_pad = inc};
    d.oh = (h + pt + pb - k) / s + 1;
    d.ow = (w + pl + pr - k) / s + 1;
    return d;
}

Test(cuda, maxpool2d)
{
    NEED(maxpool2d_fwd);
    kn_pool2d_desc ds[] = {pool_desc(2, 3, 8, 9, 2, 2, 0, 0, 0, 0, false), pool_desc(1, 4, 7, 7, 3, 2, 1, 1, 1, 1, false),
                           pool_desc(2, 2, 6, 5, 3, 1, 0, 1, 1, 0, false)};
    for (size_t t = 0; t < sizeof ds / sizeof *ds; t++) {
        kn_pool2d_desc d = ds[t];
        const size_t nx = d.n * d.c * d.h * d.w, ny = d.n * d.c * d.oh * d.ow;
        float *x = h_rand(nx, 31 + t, -1, 1), *y = h_rand(ny, 0, 0, 0), *gy = h_rand(ny, 32, -1, 1);
        float *gx = h_rand(nx, 33, -1, 1);
        int64_t *am = calloc(ny, sizeof *am);
        float *dx = d_up(x, 4 * nx), *dy = d_up(y, 4 * ny), *dgy = d_up(gy, 4 * ny), *dgx = d_up(gx, 4 * nx);
        int64_t *dam = gpu->alloc(8 * ny);
        T_OK(cpu->maxpool2d_fwd(&d, x, y, am));
        T_OK(gpu->maxpool2d_fwd(&d, dx, dy, dam));
        check_dev(dy, y, ny, 0, 0, "maxpool2d_fwd");
        int64_t *ham = h_down(dam, 8 * ny);
        cr_assert_eq(memcmp(ham, am, 8 * ny), 0, "argmax layouts agree (flat index in the image plane)");
        if (cpu->maxpool2d_bwd) {
            T_OK(cpu->maxpool2d_bwd(&d, gy, am, gx));
            T_OK(gpu->maxpool2d_bwd(&d, dgy, dam, dgx));
            check_dev(dgx, gx, nx, 1e-5, 1e-6, "maxpool2d_bwd");
        }
        gpu->free(dx); gpu->free(dy); gpu->free(dgy); gpu->free(dgx); gpu->free(dam);
        free(x); free(y); free(gy); free(gx); free(am); free(ham);
    }
}

Test(cuda, avgpool2d)
{
    NEED(avgpool2d_fwd);
    kn_pool2d_desc ds[] = {pool_desc(2, 3, 8, 9, 2, 2, 0, 0, 0, 0, false), pool_desc(1, 4, 7, 7, 3, 2, 1, 1, 1, 1, false),
                           pool_desc(1, 4, 7, 7, 3, 2, 1, 1, 1, 1, true), pool_desc(2, 2, 6, 5, 3, 1, 0, 1, 1, 0, true)};
    for (size_t t = 0; t < sizeof ds / sizeof *ds; t++) {
        kn_pool2d_desc d = ds[t];
        const size_t nx = d.n * d.c * d.h * d.w, ny = d.n * d.c * d.oh * d.ow;
        float *x = h_rand(nx, 41 + t, -1, 1), *y = h_rand(ny, 0, 0, 0), *gy = h_rand(ny, 42, -1, 1);
        float *gx = h_rand(nx, 43, -1, 1);
        float *dx = d_up(x, 4 * nx), *dy = d_up(y, 4 * ny), *dgy = d_up(gy, 4 * ny), *dgx = d_up(gx, 4 * nx);
        T_OK(cpu->avgpool2d_fwd(&d, x, y));
        T_OK(gpu->avgpool2d_fwd(&d, dx, dy));
        check_dev(dy, y, ny, 1e-5, 1e-6, "avgpool2d_fwd");
        if (cpu->avgpool2d_bwd) {
            T_OK(cpu->avgpool2d_bwd(&d, gy, gx));
            T_OK(gpu->avgpool2d_bwd(&d, dgy, dgx));
            check_dev(dgx, gx, nx, 1e-5, 1e-6, "avgpool2d_bwd");
        }
        gpu->free(dx); gpu->free(dy); gpu->free(dgy); gpu->free(dgx);
        free(x); free(y); free(gy); free(gx);
    }
}

/* ---- batch normalization ---- */

Test(cuda, batchnorm)
{
    NEED(batchnorm_train);
    const int n = 4, c = 5, sp = 37;
    const size_t nx = (size_t)n * c * sp;
    float *x = h_rand(nx, 51, -2, 3), *scale = h_rand(c, 52, 0.5f, 1.5f), *bias = h_rand(c, 53, -1, 1);
    float *rm = h_rand(c, 54, -0.5f, 0.5f), *rv = h_rand(c, 55, 0.5f, 1.5f), *y = h_rand(nx, 0, 0, 0);
    float *sm = h_rand(c, 0, 0, 0), *si = h_rand(c, 0, 0, 0), *gy = h_rand(nx, 56, -1, 1);
    float *gx = h_rand(nx, 57, -1, 1), *gs = h_rand(c, 58, -1, 1), *gb = h_rand(c, 59, -1, 1);
    float *dx = d_up(x, 4 * nx), *dscale = d_up(scale, 4 * c), *dbias = d_up(bias, 4 * c), *drm = d_up(rm, 4 * c);
    float *drv = d_up(rv, 4 * c), *dy = d_up(y, 4 * nx), *dsm = d_up(sm, 4 * c), *dsi = d_up(si, 4 * c);
    float *dgy = d_up(gy, 4 * nx), *dgx = d_up(gx, 4 * nx), *dgs = d_up(gs, 4 * c), *dgb = d_up(gb, 4 * c);
    T_OK(cpu->batchnorm_train(n, c, sp, x, scale, bias, 1e-5f, 0.9f, rm, rv, y, sm, si));
    T_OK(gpu->batchnorm_train(n, c, sp, dx, dscale, dbias, 1e-5f, 0.9f, drm, drv, dy, dsm, dsi));
    check_dev(dy, y, nx, 1e-4, 1e-4, "batchnorm_train y");
    check_dev(dsm, sm, c, 1e-4, 1e-5, "batchnorm_train save_mean");
    check_dev(dsi, si, c, 1e-4, 1e-5, "batchnorm_train save_invstd");
    check_dev(drm, rm, c, 1e-4, 1e-5, "running_mean");
    check_dev(drv, rv, c, 1e-4, 1e-5, "running_var (unbiased)");
    if (cpu->batchnorm_bwd) {
        T_OK(cpu->batchnorm_bwd(n, c, sp, x, gy, scale, sm, si, gx, gs, gb));
        T_OK(gpu->batchnorm_bwd(n, c, sp, dx, dgy, dscale, dsm, dsi, dgx, dgs, dgb));
        check_dev(dgx, gx, nx, 1e-3, 1e-4, "batchnorm_bwd gx");
        check_dev(dgs, gs, c, 1e-3, 1e-3, "batchnorm_bwd gscale");
        check_dev(dgb, gb, c, 1e-4, 1e-3, "batchnorm_bwd gbias");
    }
    if (cpu->batchnorm_infer) {
        T_OK(cpu->batchnorm_infer(n, c, sp, x, scale, bias, rm, rv, 1e-3f, y));
        T_OK(gpu->batchnorm_infer(n, c, sp, dx, dscale, dbias, drm, drv, 1e-3f, dy));
        check_dev(dy, y, nx, 1e-4, 1e-4, "batchnorm_infer");
    }
    float *all[] = {dx, dscale, dbias, drm, drv, dy, dsm, dsi, dgy, dgx, dgs, dgb};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) gpu->free(all[i]);
    float *hall[] = {x, scale, bias, rm, rv, y, sm, si, gy, gx, gs, gb};
    for (size_t i = 0; i < sizeof hall / sizeof *hall; i++) free(hall[i]);
}

/* ---- elementwise ---- */

Test(cuda, unary_all_ops)
{
    NEED(unary);
    const int64_t n = 1000;
    for (int op = 0; op < KN_UN_COUNT; op++) {
        const bool pos = op == KN_UN_LOG || op == KN_UN_SQRT || op == KN_UN_RECIPROCAL;
        /* each op on its domain: (-1, 1) for acos/asin/atanh, > 1 for acosh, away from tan's poles */
        const bool unit = op == KN_UN_ACOS || op == KN_UN_ASIN || op == KN_UN_ATANH || op == KN_UN_TAN;
        const float lo = pos ? 0.2f : unit ? -0.9f : op == KN_UN_ACOSH ? 1.1f : -4.0f;
        const float hi = pos ? 3.0f : unit ? 0.9f : 4.0f;
        float *x = h_rand(n, 60 + op, lo, hi), *y = h_rand(n, 0, 0, 0);
        float *gy = h_rand(n, 61, -1, 1), *gx = h_rand(n, 62, -1, 1);
        float *dx = d_up(x, 4 * n), *dy = d_up(y, 4 * n), *dgy = d_up(gy, 4 * n), *dgx = d_up(gx, 4 * n);
        const float alpha = op == KN_UN_HARDSIGMOID ? 0.2f : op == KN_UN_CLIP ? -1.0f : 1.6732632f;
        const float beta = op == KN_UN_HARDSIGMOID ? 0.5f : op == KN_UN_CLIP ? 2.0f : 1.0507009f;
        T_OK(cpu->unary(op, alpha, beta, n, x, y));
        T_OK(gpu->unary(op, alpha, beta, n, dx, dy));
        char what[64];
        snprintf(what, sizeof what, "unary op %d", op);
        check_dev(dy, y, n, 1e-5, 1e-6, what);
        if (cpu->unary_bwd(op, alpha, beta, n, x, y, gy, gx) == KN_OK) {
            T_OK(gpu->unary_bwd(op, alpha, beta, n, dx, dy, dgy, dgx));
            snprintf(what, sizeof what, "unary_bwd op %d", op);
            check_dev(dgx, gx, n, 1e-4, 1e-5, what);
        }
        gpu->free(dx); gpu->free(dy); gpu->free(dgy); gpu->free(dgx);
        free(x); free(y); free(gy); free(gx);
    }
}

static void bcast_of(kn_bcast *bc, int na, const int64_t *sa, int nb, const int64_t *sb)
{
    T_OK(kn_bcast_init(bc, na, sa, nb, sb));
}
static int64_t numel(int nd, const int64_t *s)
{
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= s[i];
    return n;
}

Test(cuda, binary_broadcast_and_gradients)
{
    NEED(binary);
    const int64_t sa[3] = {4, 1, 6}, sb[2] = {5, 1}, sc[3] = {4, 5, 6};
    const int shapes[][2] = {{3, 2}, {3, 3}, {3, 1}};
    const int64_t *sbs[] = {sb, sc, sb + 1};
    for (int sh = 0; sh < 3; sh++) {
        kn_bcast bc;
        const int nb = shapes[sh][1];
        bcast_of(&bc, 3, sa, nb, sbs[sh]);
        const int64_t na = numel(3, sa), nbn = numel(nb, sbs[sh]), ny = numel(bc.ndim, bc.shape);
        float *a = h_rand(na, 70, 0.5f, 2.0f), *b = h_rand(nbn, 71, 0.5f, 2.0f), *y = h_rand(ny, 0, 0, 0);
        float *dA = d_up(a, 4 * na), *dB = d_up(b, 4 * nbn), *dY = gpu->alloc(4 * ny);
        for (int op = 0; op < KN_BIN_COUNT; op++) {
            if (op == KN_BIN_AND || op == KN_BIN_OR || op == KN_BIN_XOR) continue;
            const bool cmp = op >= KN_BIN_EQUAL;
            T_OK(cpu->binary(op, KN_FLOAT, &bc, a, b, y));
            T_OK(gpu->binary(op, KN_FLOAT, &bc, dA, dB, dY));
            if (cmp) {
                uint8_t *h = h_down(dY, ny);
                cr_assert_eq(memcmp(h, y, ny), 0, "comparison op %d", op);
                free(h);
            } else {
                char what[64];
                snprintf(what, sizeof what, "binary op %d, shape case %d", op, sh);
                check_dev(dY, y, ny, 1e-5, 1e-6, what);
            }
        }
        if (cpu->binary_bwd) {
            const int bops[] = {KN_BIN_ADD, KN_BIN_SUB, KN_BIN_MUL, KN_BIN_DIV, KN_BIN_POW, KN_BIN_MAX, KN_BIN_MIN, KN_BIN_PRELU};
            float *gy = h_rand(ny, 72, -1, 1), *dgy = d_up(gy, 4 * ny);
            for (size_t i = 0; i < sizeof bops / sizeof *bops; i++) {
                float *ga = h_rand(na, 73, -1, 1), *gb = h_rand(nbn, 74, -1, 1);
                float *dga = d_up(ga, 4 * na), *dgb = d_up(gb, 4 * nbn);
                T_OK(cpu->binary_bwd(bops[i], &bc, a, b, gy, ga, gb));
                T_OK(gpu->binary_bwd(bops[i], &bc, dA, dB, dgy, dga, dgb));
                check_dev(dga, ga, na, 1e-4, 1e-5, "binary_bwd ga");
                check_dev(dgb, gb, nbn, 1e-4, 1e-5, "binary_bwd gb (reduced over broadcast dims)");
                gpu->free(dga); gpu->free(dgb); free(ga); free(gb);
            }
            gpu->free(dgy); free(gy);
        }
        gpu->free(dA); gpu->free(dB); gpu->free(dY); free(a); free(b); free(y);
    }
    /* other dtypes are refused with a message, not computed wrongly */
    kn_bcast bc;
    const int64_t s1[1] = {4};
    bcast_of(&bc, 1, s1, 1, s1);
    void *p = gpu->alloc(64);
    cr_assert_eq(gpu->binary(KN_BIN_ADD, KN_INT64, &bc, p, p, p), KN_ERR_UNSUPPORTED);
    cr_assert(strstr(kn_last_error(), "int64") != NULL, "%s", kn_last_error());
    gpu->free(p);
}

/* ---- reduce / softmax / cross-entropy ---- */

Test(cuda, reduce_all_ops)
{
    NEED(reduce);
    const int64_t shapes[][3] = {{3, 50, 7}, {64, 300, 1}, {1, 5, 33}};
    for (int s = 0; s < 3; s++) {
        const int64_t o = shapes[s][0], d = shapes[s][1], in = shapes[s][2], nx = o * d * in, ny = o * in;
        for (int op = KN_RED_SUM; op <= KN_RED_SUM_SQUARE; op++) {
            const bool prod = op == KN_RED_PROD;
            float *x = h_rand(nx, 80 + op, prod ? 0.9f : 0.1f, prod ? 1.1f : 2.0f), *y = h_rand(ny, 0, 0, 0);
            float *dx = d_up(x, 4 * nx), *dy = gpu->alloc(4 * ny);
            T_OK(cpu->reduce(op, o, d, in, x, y));
            T_OK(gpu->reduce(op, o, d, in, dx, dy));
            char what[64];
            snprintf(what, sizeof what, "reduce op %d shape %d", op, s);
            check_dev(dy, y, ny, 1e-4, 1e-5, what);
            gpu->free(dx); gpu->free(dy); free(x); free(y);
        }
    }
}

Test(cuda, softmax_and_log_softmax)
{
    NEED(softmax);
    const int64_t shapes[][3] = {{8, 10, 1}, {2, 300, 5}, {3, 7, 9}};
    for (int s = 0; s < 3; s++)
        for (int lg = 0; lg < 2; lg++) {
            const int64_t o = shapes[s][0], d = shapes[s][1], in = shapes[s][2], n = o * d * in;
            float *x = h_rand(n, 90 + s, -5, 5), *y = h_rand(n, 0, 0, 0), *gy = h_rand(n, 91, -1, 1);
            float *gx = h_rand(n, 92, -1, 1);
            float *dx = d_up(x, 4 * n), *dy = gpu->alloc(4 * n), *dgy = d_up(gy, 4 * n), *dgx = d_up(gx, 4 * n);
            T_OK(cpu->softmax(lg, o, d, in, x, y));
            T_OK(gpu->softmax(lg, o, d, in, dx, dy));
            check_dev(dy, y, n, 1e-4, 1e-6, lg ? "log_softmax" : "softmax");
            if (cpu->softmax_bwd) {
                T_OK(cpu->softmax_bwd(lg, o, d, in, y, gy, gx));
                T_OK(gpu->softmax_bwd(lg, o, d, in, dy, dgy, dgx));
                check_dev(dgx, gx, n, 1e-4, 1e-5, "softmax_bwd");
            }
            gpu->free(dx); gpu->free(dy); gpu->free(dgy); gpu->free(dgx);
            free(x); free(y); free(gy); free(gx);
        }
}

Test(cuda, softmax_cross_entropy)
{
    NEED(softmax_xent_fwd);
    const int64_t n = 6, c = 11, in = 3, nl = n * c * in, rows = n * in;
    float *logits = h_rand(nl, 100, -4, 4), *w = h_rand(c, 101, 0.5f, 2.0f);
    int64_t labels[18];
    kn_rng r;
    kn_rng_seed(&r, 102);
    for (int i = 0; i < rows; i++) labels[i] = (int64_t)kn_rng_below(&r, c);
    labels[4] = -100; /* ignored */
    float *dlog = d_up(logits, 4 * nl), *dw = d_up(w, 4 * c);
    int64_t *dlab = d_up(labels, sizeof labels);
    for (int red = 0; red < 3; red++)
        for (int wt = 0; wt < 2; wt++) {
            const int64_t nloss = red ? 1 : rows;
            float *loss = h_rand(nloss, 0, 0, 0), *lp = h_rand(nl, 0, 0, 0), *gl = h_rand(nloss, 103, 0.5f, 1.5f);
            float *gx = h_rand(nl, 104, -1, 1);
            float *dloss = gpu->alloc(4 * nloss), *dlp = gpu->alloc(4 * nl), *dgl = d_up(gl, 4 * nloss);
            float *dgx = d_up(gx, 4 * nl);
            T_OK(cpu->softmax_xent_fwd(n, c, in, logits, labels, wt ? w : NULL, -100, red, loss, lp));
            T_OK(gpu->softmax_xent_fwd(n, c, in, dlog, dlab, wt ? dw : NULL, -100, red, dloss, dlp));
            check_dev(dloss, loss, nloss, 1e-4, 1e-5, "softmax_xent_fwd loss");
            check_dev(dlp, lp, nl, 1e-4, 1e-5, "softmax_xent_fwd log_prob");
            if (cpu->softmax_xent_bwd) {
                T_OK(cpu->softmax_xent_bwd(n, c, in, lp, labels, wt ? w : NULL, -100, red, gl, gx));
                T_OK(gpu->softmax_xent_bwd(n, c, in, dlp, dlab, wt ? dw : NULL, -100, red, dgl, dgx));
                check_dev(dgx, gx, nl, 1e-4, 1e-5, "softmax_xent_bwd");
            }
            gpu->free(dloss); gpu->free(dlp); gpu->free(dgl); gpu->free(dgx);
            free(loss); free(lp); free(gl); free(gx);
        }
    /* a label out of range is an error, as on the CPU */
    labels[0] = c;
    T_OK(gpu->memcpy_h2d(dlab, labels, sizeof labels));
    float *dloss = gpu->alloc(4 * rows), *dlp = gpu->alloc(4 * nl);
    cr_assert_eq(gpu->softmax_xent_fwd(n, c, in, dlog, dlab, NULL, -100, 0, dloss, dlp), KN_ERR_INVALID);
    gpu->free(dloss); gpu->free(dlp); gpu->free(dlog); gpu->free(dw); gpu->free(dlab);
    free(logits); free(w);
}

/* ---- data movement ---- */

Test(cuda, transpose_copy2d_gather)
{
    need_gpu();
    if (!cpu->transpose && !cpu->copy2d && !cpu->gather) cr_skip_test("CPU twins of transpose/copy2d/gather are not in this build yet");
    const int64_t shape[4] = {3, 4, 5, 6};
    const int64_t n = 360, ny = 450; /* the gather below writes 3 x 5 x 30 */
    float *x = h_rand(n, 110, -1, 1), *y = h_rand(ny, 0, 0, 0);
    float *dx = d_up(x, 4 * n), *dy = gpu->alloc(4 * ny);
    if (cpu->transpose) {
        const int perms[][4] = {{0, 2, 3, 1}, {3, 2, 1, 0}, {1, 0, 2, 3}};
        for (int p = 0; p < 3; p++) {
            T_OK(cpu->transpose(4, 4, shape, perms[p], x, y));
            T_OK(gpu->transpose(4, 4, shape, perms[p], dx, dy));
            check_dev(dy, y, n, 0, 0, "transpose");
        }
        uint16_t hx[6] = {1, 2, 3, 4, 5, 6}, hy[6];
        const int64_t s2[2] = {2, 3};
        const int p2[2] = {1, 0};
        void *d16 = d_up(hx, sizeof hx), *d16y = gpu->alloc(sizeof hx);
        T_OK(gpu->transpose(2, 2, s2, p2, d16, d16y));
        T_OK(gpu->memcpy_d2h(hy, d16y, sizeof hy));
        const uint16_t want[6] = {1, 4, 2, 5, 3, 6};
        cr_assert_eq(memcmp(hy, want, sizeof hy), 0, "2-byte transpose");
        gpu->free(d16); gpu->free(d16y);
    }
    if (cpu->copy2d) {
        memset(y, 0, 4 * ny);
        T_OK(gpu->memset0(dy, 4 * ny));
        T_OK(cpu->copy2d(10, 12, x + 1, 24, y + 2, 28));
        T_OK(gpu->copy2d(10, 12, dx + 1, 24, dy + 2, 28));
        check_dev(dy, y, n, 0, 0, "copy2d");
    }
    if (cpu->gather) {
        const int64_t idx[5] = {3, 0, 3, 1, 2};
        int64_t *didx = d_up(idx, sizeof idx);
        T_OK(cpu->gather(4, 3, 4, 30, idx, 5, x, y));
        T_OK(gpu->gather(4, 3, 4, 30, didx, 5, dx, dy));
        check_dev(dy, y, 3 * 5 * 30, 0, 0, "gather");
        gpu->free(didx);
    }
    gpu->free(dx); gpu->free(dy); free(x); free(y);
}

Test(cuda, cast)
{
    NEED(cast);
    const int64_t n = 257;
    float *x = h_rand(n, 120, -300, 300);
    x[0] = 0.0f; x[1] = -0.0f; x[2] = 2.5f; x[3] = -2.5f;
    float *dx = d_up(x, 4 * n);
    const kn_dtype tos[] = {KN_INT32, KN_INT64, KN_INT8, KN_UINT8, KN_BOOL, KN_DOUBLE, KN_FLOAT16, KN_INT16};
    for (size_t t = 0; t < sizeof tos / sizeof *tos; t++) {
        const size_t es = kn_dtype_size(tos[t]);
        float *xin = x;
        float clipped[257];
        if (tos[t] == KN_INT8 || tos[t] == KN_UINT8) { /* out-of-range float->narrow int differs by platform */
            for (int i = 0; i < n; i++) clipped[i] = tos[t] == KN_UINT8 ? fabsf(fmodf(x[i], 100.0f)) : fmodf(x[i], 100.0f);
            xin = clipped;
        }
        float *dxin = d_up(xin, 4 * n);
        void *hy = calloc(n, es), *dy = gpu->alloc(n * es), *back = calloc(n, 4), *dback = gpu->alloc(4 * n);
        T_OK(cpu->cast(KN_FLOAT, tos[t], n, xin, hy));
        T_OK(gpu->cast(KN_FLOAT, tos[t], n, dxin, dy));
        void *gy = h_down(dy, n * es);
        cr_assert_eq(memcmp(gy, hy, n * es), 0, "cast float -> %s", kn_dtype_name(tos[t]));
        T_OK(cpu->cast(tos[t], KN_FLOAT, n, hy, back));
        T_OK(gpu->cast(tos[t], KN_FLOAT, n, dy, dback));
        check_dev(dback, back, n, 0, 0, "cast back to float");
        gpu->free(dxin); gpu->free(dy); gpu->free(dback);
        free(hy); free(gy); free(back);
    }
    gpu->free(dx); free(x);
}

/* ---- optimizers ---- */

Test(cuda, sgd_and_adam_steps)
{
    NEED(sgd_step);
    const int64_t n = 1001;
    for (int variant = 0; variant < 3; variant++) {
        float *p = h_rand(n, 130, -1, 1), *vel = h_rand(n, 0, 0, 0), *dp = d_up(p, 4 * n), *dvel = d_up(vel, 4 * n);
        for (int step = 0; step < 4; step++) {
            float *g = h_rand(n, 131 + step, -1, 1), *dg = d_up(g, 4 * n);
            const float mom = variant == 0 ? 0.0f : 0.9f;
            T_OK(cpu->sgd_step(n, p, g, vel, 0.1f, mom, variant == 2 ? 0.1f : 0.0f, 1e-2f, variant == 1, step == 0));
            T_OK(gpu->sgd_step(n, dp, dg, dvel, 0.1f, mom, variant == 2 ? 0.1f : 0.0f, 1e-2f, variant == 1, step == 0));
            gpu->free(dg); free(g);
        }
        check_dev(dp, p, n, 1e-5, 1e-6, "sgd params after 4 steps");
        gpu->free(dp); gpu->free(dvel); free(p); free(vel);
    }
    if (!cpu->adam_step) return;
    for (int decoupled = 0; decoupled < 2; decoupled++) {
        float *p = h_rand(n, 140, -1, 1), *m = h_rand(n, 0, 0, 0), *v = h_rand(n, 0, 0, 0);
        float *dp = d_up(p, 4 * n), *dm = d_up(m, 4 * n), *dv = d_up(v, 4 * n);
        for (int step = 1; step <= 5; step++) {
            float *g = h_rand(n, 141 + step, -1, 1), *dg = d_up(g, 4 * n);
            T_OK(cpu->adam_step(n, p, g, m, v, 1e-2f, 0.9f, 0.999f, 1e-8f, 1e-2f, decoupled, step));
            T_OK(gpu->adam_step(n, dp, dg, dm, dv, 1e-2f, 0.9f, 0.999f, 1e-8f, 1e-2f, decoupled, step));
            gpu->free(dg); free(g);
        }
        check_dev(dp, p, n, 1e-5, 1e-6, "adam params after 5 steps");
        check_dev(dv, v, n, 1e-5, 1e-9, "adam second moment");
        gpu->free(dp); gpu->free(dm); gpu->free(dv); free(p); free(m); free(v);
    }
}

/* ---- strided views, fill, arg-reductions ---- */

Test(cuda, copy_and_add_strided)
{
    NEED(copy_strided);
    cr_assert(gpu->add_strided != NULL, "CUDA table lacks 'add_strided'");
    /* x viewed as [4, 3, 5] with a reversed middle dim, a broadcast (stride 0) dim and a
     * transposed pair: every stride kind the view ops produce */
    const int64_t n = 4 * 3 * 5;
    float *x = h_rand(n, 130, -1, 1), *y = h_rand(2 * n, 0, 0, 0);
    float *dx = d_up(x, 4 * n), *dy = d_up(y, 8 * n);
    const int64_t shape[4] = {4, 2, 3, 5}, xs[4] = {15, 0, -5, 1}, ys[4] = {30, 15, 1, 3};
    const float *xbase = x + 10, *dxbase = dx + 10; /* index 0 of the reversed dim is x[.., 2, ..] */
    T_OK(cpu->copy_strided(4, 4, shape, xbase, xs, y, ys));
    T_OK(gpu->copy_strided(4, 4, shape, dxbase, xs, dy, ys));
    check_dev(dy, y, 2 * n, 0, 0, "copy_strided (float)");
    uint8_t hb[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, hbo[12];
    const int64_t bs[2] = {3, 4}, bxs[2] = {4, 1}, bys[2] = {1, 3};
    void *db = d_up(hb, sizeof hb), *dbo = gpu->alloc(sizeof hb);
    T_OK(gpu->copy_strided(1, 2, bs, db, bxs, dbo, bys));
    T_OK(gpu->memcpy_d2h(hbo, dbo, sizeof hbo));
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) cr_assert_eq(hbo[j * 3 + i], hb[i * 4 + j], "1-byte transpose at %d,%d", i, j);
    gpu->free(db); gpu->free(dbo);
    /* accumulate: y dims 0-stride (summed) and plain; y starts non-zero */
    float *g = h_rand(2 * n, 131, -1, 1), *dg = d_up(g, 8 * n);
    const int64_t as[3] = {4, 3, 5}, axs[3] = {15, 5, 1}, ays[3] = {5, 0, 1}; /* sum over the middle dim */
    T_OK(cpu->add_strided(3, as, x, axs, g, ays));
    T_OK(gpu->add_strided(3, as, dx, axs, dg, ays));
    check_dev(dg, g, 2 * n, 1e-6, 1e-6, "add_strided (summing a 0-stride dim)");
    T_OK(cpu->add_strided(4, shape, xbase, xs, g, ys));
    T_OK(gpu->add_strided(4, shape, dxbase, xs, dg, ys));
    check_dev(dg, g, 2 * n, 1e-6, 1e-6, "add_strided (reversed, transposed)");
    gpu->free(dx); gpu->free(dy); gpu->free(dg);
    free(x); free(y); free(g);
}

Test(cuda, fill_every_element_size)
{
    NEED(fill);
    const size_t sizes[4] = {1, 2, 4, 8};
    const uint64_t value = 0x0123456789abcdefull;
    for (int k = 0; k < 4; k++) {
        const int64_t n = 1000 + k;
        const size_t bytes = sizes[k] * (size_t)n;
        unsigned char *want = malloc(bytes), *got = malloc(bytes);
        T_OK(cpu->fill(sizes[k], n, value, want));
        void *d = gpu->alloc(bytes);
        T_OK(gpu->fill(sizes[k], n, value, d));
        T_OK(gpu->memcpy_d2h(got, d, bytes));
        cr_assert_eq(memcmp(got, want, bytes), 0, "fill of %zu-byte elements", sizes[k]);
        gpu->free(d);
        free(want); free(got);
    }
    cr_assert_neq(gpu->fill(3, 4, 0, NULL), KN_OK, "a 3-byte element is refused");
}

Test(cuda, argmax_argmin_ties_and_nan)
{
    NEED(argreduce);
    const int64_t outer = 3, dim = 7, inner = 5, n = outer * dim * inner;
    float *x = h_rand(n, 140, -1, 1);
    for (int64_t i = 0; i < n; i += 4) x[i] = 0.25f; /* ties */
    x[17] = NAN;
    x[17 + 2 * inner] = NAN;
    float *dx = d_up(x, 4 * n);
    int64_t *want = malloc(sizeof(int64_t) * outer * inner), *got = malloc(sizeof(int64_t) * outer * inner);
    int64_t *dy = gpu->alloc(sizeof(int64_t) * outer * inner);
    for (int mode = 0; mode < 4; mode++) {
        const bool is_min = mode & 1, last = mode & 2;
        T_OK(cpu->argreduce(is_min, last, outer, dim, inner, x, want));
        T_OK(gpu->argreduce(is_min, last, outer, dim, inner, dx, dy));
        T_OK(gpu->memcpy_d2h(got, dy, sizeof(int64_t) * outer * inner));
        for (int64_t i = 0; i < outer * inner; i++)
            cr_assert_eq(got[i], want[i], "arg%s select_last %d column %lld: %lld vs %lld", is_min ? "min" : "max",
                         last, (long long)i, (long long)got[i], (long long)want[i]);
    }
    gpu->free(dx); gpu->free(dy);
    free(x); free(want); free(got);
}
