/* Pooling: the CPU kernels against direct loops, the MaxPool / AveragePool /
 * Global*Pool ops on cases ported from the official ONNX node tests, Indices,
 * finite-difference gradients and errors naming the node. */
#include "helpers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Direct pooling over the window taps; avg divisor per ONNX / PyTorch. */
static void ref_pool(const kn_pool2d_desc *d, bool max, const float *x, float *y)
{
    for (int64_t p = 0; p < d->n * d->c; p++)
        for (int64_t oy = 0; oy < d->oh; oy++)
            for (int64_t ox = 0; ox < d->ow; ox++) {
                double s = 0, best = -INFINITY;
                int64_t cnt = 0, cnt_pad = 0;
                for (int64_t ky = 0; ky < d->kh; ky++)
                    for (int64_t kx = 0; kx < d->kw; kx++) {
                        int64_t iy = oy * d->stride_h - d->pad_t + ky * d->dil_h;
                        int64_t ix = ox * d->stride_w - d->pad_l + kx * d->dil_w;
                        if (iy >= -d->pad_t && iy < d->h + d->pad_b && ix >= -d->pad_l && ix < d->w + d->pad_r) cnt_pad++;
                        if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) continue;
                        double v = x[(p * d->h + iy) * d->w + ix];
                        s += v;
                        cnt++;
                        if (v > best) best = v;
                    }
                y[(p * d->oh + oy) * d->ow + ox] = (float)(max ? best : s / (d->count_include_pad ? cnt_pad : cnt));
            }
}

static void check_pool_kernels(kn_pool2d_desc d)
{
    d.oh = (d.h + d.pad_t + d.pad_b - d.dil_h * (d.kh - 1) - 1) / d.stride_h + 1;
    d.ow = (d.w + d.pad_l + d.pad_r - d.dil_w * (d.kw - 1) - 1) / d.stride_w + 1;
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    int64_t nx = d.n * d.c * d.h * d.w, ny = d.n * d.c * d.oh * d.ow;
    kn_tensor x = t_new_rand(1, -1, 1, 1, (int)nx), y = t_new(1, (int)ny), ref = t_new(1, (int)ny);
    kn_tensor gy = t_new_rand(2, -1, 1, 1, (int)ny), gx = t_new(1, (int)nx), rgx = t_new(1, (int)nx);
    int64_t *arg = malloc(sizeof(int64_t) * (size_t)ny);
    float *X = x.data, *GY = gy.data, *GX = gx.data, *RGX = rgx.data;
    /* max: forward with and without argmax; backward accumulates onto 1s at the argmax */
    T_OK(k->maxpool2d_fwd(&d, X, y.data, arg));
    ref_pool(&d, true, X, ref.data);
    T_ASSERT_CLOSE(y.data, ref.data, ny, 0, 0);
    T_OK(k->maxpool2d_fwd(&d, X, y.data, NULL));
    T_ASSERT_CLOSE(y.data, ref.data, ny, 0, 0);
    for (int64_t i = 0; i < nx; i++) GX[i] = RGX[i] = 1.0f;
    for (int64_t i = 0; i < ny; i++) {
        int64_t plane = i / (d.oh * d.ow);
        cr_assert(X[plane * d.h * d.w + arg[i]] == ((float *)y.data)[i], "argmax %lld points at the max", (long long)i);
        RGX[plane * d.h * d.w + arg[i]] += GY[i];
    }
    T_OK(k->maxpool2d_bwd(&d, GY, arg, GX));
    T_ASSERT_CLOSE(GX, RGX, nx, 1e-6, 1e-6);
    /* average, both divisor conventions; backward checked as the adjoint: <gy, A x> = <A^T gy, x> */
    for (int cip = 0; cip < 2; cip++) {
        d.count_include_pad = cip;
        T_OK(k->avgpool2d_fwd(&d, X, y.data));
        ref_pool(&d, false, X, ref.data);
        T_ASSERT_CLOSE(y.data, ref.data, ny, 1e-5, 1e-6);
        memset(GX, 0, sizeof(float) * (size_t)nx);
        T_OK(k->avgpool2d_bwd(&d, GY, GX));
        double lhs = 0, rhs = 0;
        for (int64_t i = 0; i < ny; i++) lhs += (double)GY[i] * ((float *)y.data)[i];
        for (int64_t i = 0; i < nx; i++) rhs += (double)GX[i] * X[i];
        cr_assert(fabs(lhs - rhs) < 1e-4 * (1 + fabs(lhs)), "avgpool backward is the adjoint: %g vs %g", lhs, rhs);
    }
    free(arg);
    kn_tensor *ts[] = {&x, &y, &ref, &gy, &gx, &rgx};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) kn_tensor_release(ts[i]);
}

#define PDESC(...) ((kn_pool2d_desc){__VA_ARGS__})

Test(pool_kernel, plain_2x2)
{
    check_pool_kernels(PDESC(.n = 2, .c = 3, .h = 6, .w = 8, .kh = 2, .kw = 2, .stride_h = 2, .stride_w = 2, .dil_h = 1, .dil_w = 1));
}
Test(pool_kernel, padded_strided_dilated)
{
    check_pool_kernels(PDESC(.n = 2, .c = 2, .h = 9, .w = 7, .kh = 3, .kw = 2, .stride_h = 2, .stride_w = 1, .pad_t = 1,
                             .pad_l = 1, .pad_b = 2, .pad_r = 0, .dil_h = 2, .dil_w = 1));
}
Test(pool_kernel, many_planes_parallel)
{
    check_pool_kernels(PDESC(.n = 8, .c = 16, .h = 12, .w = 12, .kh = 3, .kw = 3, .stride_h = 1, .stride_w = 1, .pad_t = 1,
                             .pad_l = 1, .pad_b = 1, .pad_r = 1, .dil_h = 1, .dil_w = 1));
}

/* 2x2 stride 2 without argmax (the vector row kernel): widths that end mid-vector, odd
 * (the last column unread), and over 16 outputs; NaNs win over numbers and the first NaN
 * stays, tied zeros keep the earlier tap's sign (the scalar rule, MAX_TAKE). */
Test(pool_kernel, max_2x2_stride2_rows_nan_and_signed_zero)
{
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    const int64_t widths[] = {2, 9, 28, 31, 33, 64, 70};
    for (size_t wi = 0; wi < sizeof widths / sizeof *widths; wi++) {
        kn_pool2d_desc d = PDESC(.n = 2, .c = 3, .h = 7, .w = widths[wi], .kh = 2, .kw = 2, .stride_h = 2, .stride_w = 2,
                                 .dil_h = 1, .dil_w = 1);
        d.oh = (d.h - 2) / 2 + 1;
        d.ow = (d.w - 2) / 2 + 1;
        const int64_t nx = d.n * d.c * d.h * d.w, ny = d.n * d.c * d.oh * d.ow;
        kn_tensor x = t_new_rand(7, -1, 1, 1, (int)nx), y = t_new(1, (int)ny);
        float *X = x.data, *Y = y.data;
        for (int64_t i = 0; i < nx; i += 5) X[i] = (i / 5) % 3 == 0 ? NAN : (i / 5) % 3 == 1 ? -0.0f : 0.0f;
        for (int64_t i = 3; i < nx; i += 11) X[i] = i % 2 ? 0.0f : -0.0f;
        T_OK(k->maxpool2d_fwd(&d, X, Y, NULL));
        for (int64_t p = 0; p < d.n * d.c; p++)
            for (int64_t oy = 0; oy < d.oh; oy++)
                for (int64_t ox = 0; ox < d.ow; ox++) {
                    const float *r0 = X + (p * d.h + 2 * oy) * d.w + 2 * ox, *r1 = r0 + d.w;
                    const float taps[4] = {r0[0], r0[1], r1[0], r1[1]};
                    float best = taps[0];
                    for (int t = 1; t < 4; t++)
                        if (taps[t] > best || (isnan(taps[t]) && !isnan(best))) best = taps[t];
                    const float got = Y[(p * d.oh + oy) * d.ow + ox];
                    cr_assert(isnan(best) ? isnan(got) : (got == best && signbit(got) == signbit(best)),
                              "w=%lld plane %lld (%lld,%lld): %g (sign %d), want %g (sign %d)", (long long)d.w,
                              (long long)p, (long long)oy, (long long)ox, (double)got, signbit(got) != 0,
                              (double)best, signbit(best) != 0);
                }
        kn_tensor_release(&x);
        kn_tensor_release(&y);
    }
}

/* ---- ops ---- */

static int pool_graph(kn_graph **g, const char *op, const kn_tensor *x, int n_out)
{
    return t_single_node_graph(g, op, 1, x, n_out);
}

static void set_ints(kn_graph *g, int node, const char *name, int n, int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t v[4] = {a, b, c, d};
    T_OK(kn_node_set_ints(g, node, name, n, v));
}

static kn_tensor iota(int h, int w, float start)
{
    kn_tensor x = t_new(4, 1, 1, h, w);
    for (int i = 0; i < h * w; i++) ((float *)x.data)[i] = start + (float)i;
    return x;
}

Test(pool_op, onnx_ceil_mode)
{
    kn_tensor x = iota(4, 4, 1);
    kn_tensor *in[1] = {&x}, outs[2] = {0}, state[KN_OP_MAX_STATE] = {0};
    const char *ops[2] = {"MaxPool", "AveragePool"};
    const float e[2][4] = {{11, 12, 15, 16}, {6, 7.5f, 12, 13.5f}};
    for (int o = 0; o < 2; o++) {
        kn_graph *g;
        int node = pool_graph(&g, ops[o], &x, 1);
        set_ints(g, node, "kernel_shape", 2, 3, 3, 0, 0);
        set_ints(g, node, "strides", 2, 2, 2, 0, 0);
        T_OK(kn_node_set_int(g, node, "ceil_mode", 1));
        T_OK(t_run_node(g, node, in, outs, state, false));
        cr_assert(outs[0].shape[2] == 2 && outs[0].shape[3] == 2);
        T_ASSERT_CLOSE(outs[0].data, e[o], 4, 1e-6, 0);
        kn_tensor_release(&outs[0]);
        kn_graph_free(g);
    }
    kn_tensor_release(&x);
}

Test(pool_op, onnx_same_upper_and_count_include_pad)
{
    kn_tensor x = iota(5, 5, 1);
    kn_tensor *in[1] = {&x}, outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    kn_graph *g;
    /* test_averagepool_2d_precomputed_same_upper */
    int node = pool_graph(&g, "AveragePool", &x, 1);
    set_ints(g, node, "kernel_shape", 2, 3, 3, 0, 0);
    set_ints(g, node, "strides", 2, 2, 2, 0, 0);
    T_OK(kn_node_set_string(g, node, "auto_pad", "SAME_UPPER"));
    T_OK(t_run_node(g, node, in, outs, state, false));
    const float e1[9] = {4, 5.5f, 7, 11.5f, 13, 14.5f, 19, 20.5f, 22};
    T_ASSERT_CLOSE(outs[0].data, e1, 9, 1e-6, 0);
    kn_tensor_release(&outs[0]);
    kn_graph_free(g);
    /* test_averagepool_2d_precomputed_pads_count_include_pad: first row */
    node = pool_graph(&g, "AveragePool", &x, 1);
    set_ints(g, node, "kernel_shape", 2, 5, 5, 0, 0);
    set_ints(g, node, "pads", 4, 2, 2, 2, 2);
    T_OK(kn_node_set_int(g, node, "count_include_pad", 1));
    T_OK(t_run_node(g, node, in, outs, state, false));
    const float e2[5] = {2.52f, 3.6f, 4.8f, 4.08f, 3.24f};
    T_ASSERT_CLOSE(outs[0].data, e2, 5, 1e-5, 0);
    kn_tensor_release(&outs[0]);
    kn_graph_free(g);
    kn_tensor_release(&x);
}

/* test_maxpool_with_argmax_2d_precomputed_strides (storage_order 1) and its row-major twin. */
Test(pool_op, maxpool_indices)
{
    kn_tensor x = t_new(4, 2, 1, 5, 5);
    for (int i = 0; i < 50; i++) ((float *)x.data)[i] = (float)(i % 25 + 1);
    kn_tensor *in[1] = {&x}, outs[2] = {0}, state[KN_OP_MAX_STATE] = {0};
    for (int so = 0; so < 2; so++) {
        kn_graph *g;
        int node = pool_graph(&g, "MaxPool", &x, 2);
        set_ints(g, node, "kernel_shape", 2, 2, 2, 0, 0);
        set_ints(g, node, "strides", 2, 2, 2, 0, 0);
        T_OK(kn_node_set_int(g, node, "storage_order", so));
        T_OK(t_run_node(g, node, in, outs, state, so == 1)); /* training too: argmax kept in state */
        const float ey[4] = {7, 9, 17, 19};
        T_ASSERT_CLOSE(outs[0].data, ey, 4, 0, 0);
        cr_assert_eq(outs[1].dtype, KN_INT64);
        const int64_t *ind = outs[1].data;
        const int64_t e0[8] = {6, 8, 16, 18, 31, 33, 41, 43}, e1[8] = {6, 16, 8, 18, 31, 41, 33, 43};
        for (int i = 0; i < 8; i++)
            cr_assert_eq(ind[i], so ? e1[i] : e0[i], "storage_order %d index %d: %lld", so, i, (long long)ind[i]);
        kn_tensor_release(&outs[0]);
        kn_tensor_release(&outs[1]);
        for (int i = 0; i < KN_OP_MAX_STATE; i++) kn_tensor_release(&state[i]);
        kn_graph_free(g);
    }
    kn_tensor_release(&x);
}

/* Values spaced apart so finite differences never cross a max tie. */
static kn_tensor spaced(uint64_t seed, int n, int c, int h, int w)
{
    kn_tensor x = t_new(4, n, c, h, w);
    int64_t m = kn_tensor_numel(&x);
    float *d = x.data;
    for (int64_t i = 0; i < m; i++) d[i] = 0.1f * (float)((i * 37 + (int64_t)seed) % m) - 1.0f;
    return x;
}

Test(pool_op, maxpool_gradient)
{
    kn_tensor x = spaced(3, 2, 2, 5, 6);
    kn_tensor *in[1] = {&x};
    kn_graph *g;
    int node = pool_graph(&g, "MaxPool", &x, 1);
    set_ints(g, node, "kernel_shape", 2, 3, 2, 0, 0);
    set_ints(g, node, "strides", 2, 2, 1, 0, 0);
    set_ints(g, node, "pads", 4, 1, 0, 1, 1);
    t_gradcheck(g, node, in, 1, true, 1e-3f, 1e-2, 1e-3);
    kn_graph_free(g);
    kn_tensor_release(&x);
}

Test(pool_op, averagepool_gradients_1d_and_2d)
{
    for (int cip = 0; cip < 2; cip++) {
        kn_tensor x = t_new_rand(5, -1, 1, 4, 2, 2, 5, 6);
        kn_tensor *in[1] = {&x};
        kn_graph *g;
        int node = pool_graph(&g, "AveragePool", &x, 1);
        set_ints(g, node, "kernel_shape", 2, 3, 3, 0, 0);
        set_ints(g, node, "strides", 2, 2, 2, 0, 0);
        set_ints(g, node, "pads", 4, 1, 1, 1, 0);
        T_OK(kn_node_set_int(g, node, "count_include_pad", cip));
        T_OK(kn_node_set_int(g, node, "ceil_mode", 1));
        t_gradcheck(g, node, in, 1, true, 1e-2f, 1e-2, 1e-3);
        kn_graph_free(g);
        kn_tensor_release(&x);
    }
    kn_tensor x = t_new_rand(6, -1, 1, 3, 2, 3, 11);
    kn_tensor *in[1] = {&x}, outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    kn_graph *g;
    int node = pool_graph(&g, "AveragePool", &x, 1);
    set_ints(g, node, "kernel_shape", 1, 3, 0, 0, 0);
    set_ints(g, node, "strides", 1, 2, 0, 0, 0);
    T_OK(t_run_node(g, node, in, outs, state, false));
    cr_assert(outs[0].ndim == 3 && outs[0].shape[2] == 5);
    const float *X = x.data, *Y = outs[0].data;
    cr_assert_float_eq(Y[1], (X[2] + X[3] + X[4]) / 3.0f, 1e-6);
    t_gradcheck(g, node, in, 1, true, 1e-2f, 1e-2, 1e-3);
    kn_tensor_release(&outs[0]);
    kn_graph_free(g);
    kn_tensor_release(&x);
}

Test(pool_op, global_pools_any_rank)
{
    int64_t shape[5] = {2, 3, 2, 3, 2};
    kn_tensor x;
    T_OK(kn_tensor_init(&x, KN_FLOAT, 5, shape));
    float *X = x.data;
    for (int i = 0; i < 72; i++) X[i] = 0.05f * (float)((i * 29) % 72) - 1.5f;
    kn_tensor *in[1] = {&x}, outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    const char *ops[2] = {"GlobalAveragePool", "GlobalMaxPool"};
    for (int o = 0; o < 2; o++) {
        kn_graph *g;
        int node = pool_graph(&g, ops[o], &x, 1);
        T_OK(t_run_node(g, node, in, outs, state, false));
        cr_assert(outs[0].ndim == 5 && outs[0].shape[1] == 3 && outs[0].shape[2] == 1 && outs[0].shape[4] == 1);
        for (int p = 0; p < 6; p++) {
            double s = 0, m = -INFINITY;
            for (int j = 0; j < 12; j++) { s += X[p * 12 + j]; m = fmax(m, X[p * 12 + j]); }
            cr_assert_float_eq(((float *)outs[0].data)[p], (float)(o ? m : s / 12), 1e-5);
        }
        t_gradcheck(g, node, in, 1, true, 1e-3f, 1e-2, 1e-3);
        kn_tensor_release(&outs[0]);
        kn_graph_free(g);
    }
    kn_tensor_release(&x);
}

Test(pool_op, errors_name_the_node)
{
    kn_tensor x = t_new(4, 1, 2, 6, 6);
    kn_tensor *in[1] = {&x}, outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    kn_graph *g;
    int node = pool_graph(&g, "MaxPool", &x, 1);
    cr_assert_eq(t_run_node(g, node, in, outs, state, false), KN_ERR_INVALID);
    cr_assert(strstr(kn_last_error(), "node 'n0' (MaxPool)") && strstr(kn_last_error(), "kernel_shape"), "%s",
              kn_last_error());
    set_ints(g, node, "kernel_shape", 2, 7, 7, 0, 0);
    cr_assert_eq(t_run_node(g, node, in, outs, state, false), KN_ERR_SHAPE); /* window larger than input */
    cr_assert(strstr(kn_last_error(), "node 'n0' (MaxPool)"), "%s", kn_last_error());
    set_ints(g, node, "kernel_shape", 2, 2, 2, 0, 0);
    T_OK(kn_node_set_string(g, node, "auto_pad", "SAME"));
    cr_assert_eq(t_run_node(g, node, in, outs, state, false), KN_ERR_INVALID);
    kn_graph_free(g);
    kn_tensor_release(&x);

    int64_t s5[5] = {1, 1, 4, 4, 4}, s4[4] = {1, 1, 4, 4};
    kn_tensor m5, m4, *o[1] = {&outs[0]}, *pin[1];
    kn_tensor_meta(&m5, KN_FLOAT, 5, s5);
    kn_tensor_meta(&m4, KN_UINT8, 4, s4);
    node = pool_graph(&g, "AveragePool", &m5, 1);
    set_ints(g, node, "kernel_shape", 3, 2, 2, 2, 0);
    pin[0] = &m5;
    T_OK(kn_node_infer(g, &g->nodes[node], pin, o)); /* 3-D runs on the N-d kernels */
    cr_assert(outs[0].ndim == 5 && outs[0].shape[2] == 3 && outs[0].shape[4] == 3);
    kn_graph_free(g);
    node = pool_graph(&g, "AveragePool", &m4, 1); /* MaxPool takes integers, AveragePool does not */
    set_ints(g, node, "kernel_shape", 2, 2, 2, 0, 0);
    pin[0] = &m4;
    cr_assert_eq(kn_node_infer(g, &g->nodes[node], pin, o), KN_ERR_UNSUPPORTED);
    cr_assert(strstr(kn_last_error(), "uint8"), "%s", kn_last_error());
    kn_graph_free(g);
}

Test(pool_op, unknown_dims_propagate)
{
    int64_t s[4] = {KN_DIM_UNKNOWN, 4, KN_DIM_UNKNOWN, 9};
    kn_tensor m, out, *pin[1] = {&m}, *o[1] = {&out};
    kn_tensor_meta(&m, KN_FLOAT, 4, s);
    kn_graph *g;
    int node = pool_graph(&g, "MaxPool", &m, 1);
    set_ints(g, node, "kernel_shape", 2, 3, 3, 0, 0);
    set_ints(g, node, "strides", 2, 2, 2, 0, 0);
    T_OK(kn_node_infer(g, &g->nodes[node], pin, o));
    cr_assert(out.shape[0] == KN_DIM_UNKNOWN && out.shape[1] == 4 && out.shape[2] == KN_DIM_UNKNOWN && out.shape[3] == 4);
    kn_graph_free(g);
    node = pool_graph(&g, "GlobalAveragePool", &m, 1);
    T_OK(kn_node_infer(g, &g->nodes[node], pin, o));
    cr_assert(out.shape[0] == KN_DIM_UNKNOWN && out.shape[2] == 1 && out.shape[3] == 1);
    kn_graph_free(g);
}

/* Global average pooling of 2-D planes through the kernel: plane sizes around the vector
 * widths (1, 15, 16, 17, 31, 32, 33, 7x7, 10x10) against a double-precision sum. */
Test(pool_kernel, global_average_plane_sizes)
{
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    const int64_t sides[][2] = {{1, 1}, {3, 5}, {4, 4}, {1, 17}, {31, 1}, {4, 8}, {3, 11}, {7, 7}, {10, 10}};
    for (size_t si = 0; si < sizeof sides / sizeof *sides; si++) {
        const int64_t h = sides[si][0], w = sides[si][1], planes = 6;
        kn_pool2d_desc d = {.n = 2, .c = 3, .h = h, .w = w, .oh = 1, .ow = 1, .kh = h, .kw = w, .stride_h = 1,
                            .stride_w = 1, .dil_h = 1, .dil_w = 1};
        float x[6 * 100], y[6];
        for (int64_t i = 0; i < planes * h * w; i++) x[i] = 0.01f * (float)((i * 37) % 101) - 0.4f;
        T_OK(k->avgpool2d_fwd(&d, x, y));
        for (int64_t p = 0; p < planes; p++) {
            double s = 0;
            for (int64_t j = 0; j < h * w; j++) s += x[p * h * w + j];
            cr_assert_float_eq(y[p], (float)(s / (double)(h * w)), 1e-5, "%lldx%lld plane %lld: %g vs %g", (long long)h,
                               (long long)w, (long long)p, y[p], s / (double)(h * w));
        }
    }
}
