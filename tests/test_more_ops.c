/* Ops added for ONNX coverage: 3-D Conv / ConvTranspose / MaxPool / AveragePool
 * on the N-d kernels, MaxPool on integers, Max/Min on float16, and the extra
 * unary and data ops, each against a plain reference (and finite differences
 * where differentiable). */
#include "helpers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void set_ints(kn_graph *g, int node, const char *name, int n, const int64_t *v)
{
    T_OK(kn_node_set_ints(g, node, name, n, v));
}

/* ---- 3-D convolution ---- */

typedef struct geo3 {
    int64_t n, c, oc, group, in[3], k[3], s[3], d[3], pb[3], pe[3], out[3];
} geo3;

static void geo3_finish(geo3 *g)
{
    for (int i = 0; i < 3; i++) g->out[i] = (g->in[i] + g->pb[i] + g->pe[i] - g->d[i] * (g->k[i] - 1) - 1) / g->s[i] + 1;
}

/* y[n, m, o] = b[m] + sum over the group's channels and taps of x * w. */
static void ref_conv3d(const geo3 *g, const float *x, const float *w, const float *b, float *y)
{
    const int64_t cg = g->c / g->group, ocg = g->oc / g->group;
    const int64_t *O = g->out, *I = g->in, *K = g->k;
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t m = 0; m < g->oc; m++)
            for (int64_t a = 0; a < O[0]; a++)
                for (int64_t bb = 0; bb < O[1]; bb++)
                    for (int64_t cc = 0; cc < O[2]; cc++) {
                        double s = b ? b[m] : 0;
                        for (int64_t ci = 0; ci < cg; ci++)
                            for (int64_t k0 = 0; k0 < K[0]; k0++)
                                for (int64_t k1 = 0; k1 < K[1]; k1++)
                                    for (int64_t k2 = 0; k2 < K[2]; k2++) {
                                        int64_t i0 = a * g->s[0] - g->pb[0] + k0 * g->d[0];
                                        int64_t i1 = bb * g->s[1] - g->pb[1] + k1 * g->d[1];
                                        int64_t i2 = cc * g->s[2] - g->pb[2] + k2 * g->d[2];
                                        if (i0 < 0 || i0 >= I[0] || i1 < 0 || i1 >= I[1] || i2 < 0 || i2 >= I[2]) continue;
                                        int64_t ch = (m / ocg) * cg + ci;
                                        s += (double)x[(((n * g->c + ch) * I[0] + i0) * I[1] + i1) * I[2] + i2] *
                                             w[(((m * cg + ci) * K[0] + k0) * K[1] + k1) * K[2] + k2];
                                    }
                        y[(((n * g->oc + m) * O[0] + a) * O[1] + bb) * O[2] + cc] = (float)s;
                    }
}

static int conv_graph(kn_graph **g, const char *op, int n_in, kn_tensor *const *in)
{
    kn_tensor meta[3];
    for (int i = 0; i < n_in; i++) meta[i] = *in[i];
    return t_single_node_graph(g, op, n_in, meta, 1);
}

Test(conv3d, strided_dilated_grouped_padded_with_gradients)
{
    geo3 ge = {.n = 2, .c = 4, .oc = 4, .group = 2, .in = {5, 6, 5}, .k = {2, 3, 2}, .s = {2, 1, 2}, .d = {1, 2, 1},
               .pb = {1, 0, 1}, .pe = {0, 2, 0}};
    geo3_finish(&ge);
    kn_tensor x = t_new_rand(1, -1, 1, 5, 2, 4, 5, 6, 5), w = t_new_rand(2, -1, 1, 5, 4, 2, 2, 3, 2),
              b = t_new_rand(3, -1, 1, 1, 4);
    kn_tensor *in[3] = {&x, &w, &b};
    kn_graph *g;
    int node = conv_graph(&g, "Conv", 3, in);
    set_ints(g, node, "strides", 3, ge.s);
    int64_t pads[6] = {1, 0, 1, 0, 2, 0};
    set_ints(g, node, "pads", 6, pads);
    set_ints(g, node, "dilations", 3, ge.d);
    T_OK(kn_node_set_int(g, node, "group", 2));
    kn_tensor outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, false));
    cr_assert_eq(outs[0].ndim, 5);
    for (int i = 0; i < 3; i++) cr_assert_eq(outs[0].shape[2 + i], ge.out[i], "spatial dim %d", i);
    int64_t ny = kn_tensor_numel(&outs[0]);
    float *ref = malloc(sizeof(float) * (size_t)ny);
    ref_conv3d(&ge, x.data, w.data, b.data, ref);
    T_ASSERT_CLOSE(outs[0].data, ref, ny, 1e-4, 1e-5);
    t_gradcheck(g, node, in, 7, true, 1e-2f, 1e-2, 2e-3);
    free(ref);
    kn_tensor_release(&outs[0]);
    kn_tensor_release(&x); kn_tensor_release(&w); kn_tensor_release(&b);
    kn_graph_free(g);
}

/* ConvTranspose scatters each input through the kernel: y[o*s - pad + k*d] += x * w. */
Test(conv3d, transpose_strided_with_bias_and_gradients)
{
    const int64_t C = 2, M = 3, I[3] = {2, 3, 2}, K[3] = {2, 2, 3}, S[3] = {2, 1, 2}, P[3] = {1, 0, 0};
    kn_tensor x = t_new_rand(4, -1, 1, 5, 1, 2, 2, 3, 2), w = t_new_rand(5, -1, 1, 5, 2, 3, 2, 2, 3),
              b = t_new_rand(6, -1, 1, 1, 3);
    kn_tensor *in[3] = {&x, &w, &b};
    kn_graph *g;
    int node = conv_graph(&g, "ConvTranspose", 3, in);
    set_ints(g, node, "strides", 3, S);
    int64_t pads[6] = {1, 0, 0, 0, 0, 1};
    set_ints(g, node, "pads", 6, pads);
    kn_tensor outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, false));
    int64_t O[3];
    for (int i = 0; i < 3; i++) O[i] = S[i] * (I[i] - 1) + K[i] - P[i] - pads[3 + i];
    cr_assert(outs[0].ndim == 5 && outs[0].shape[1] == M && outs[0].shape[2] == O[0] && outs[0].shape[3] == O[1] &&
              outs[0].shape[4] == O[2]);
    float ref[3 * 3 * 4 * 4];
    cr_assert_eq((int64_t)(sizeof ref / sizeof *ref), M * O[0] * O[1] * O[2]);
    const float *X = x.data, *W = w.data, *B = b.data;
    for (int64_t m = 0; m < M; m++)
        for (int64_t j = 0; j < O[0] * O[1] * O[2]; j++) ref[m * O[0] * O[1] * O[2] + j] = B[m];
    for (int64_t c = 0; c < C; c++)
        for (int64_t i0 = 0; i0 < I[0]; i0++)
            for (int64_t i1 = 0; i1 < I[1]; i1++)
                for (int64_t i2 = 0; i2 < I[2]; i2++)
                    for (int64_t m = 0; m < M; m++)
                        for (int64_t k0 = 0; k0 < K[0]; k0++)
                            for (int64_t k1 = 0; k1 < K[1]; k1++)
                                for (int64_t k2 = 0; k2 < K[2]; k2++) {
                                    int64_t o0 = i0 * S[0] - P[0] + k0, o1 = i1 * S[1] - P[1] + k1, o2 = i2 * S[2] - P[2] + k2;
                                    if (o0 < 0 || o0 >= O[0] || o1 < 0 || o1 >= O[1] || o2 < 0 || o2 >= O[2]) continue;
                                    ref[((m * O[0] + o0) * O[1] + o1) * O[2] + o2] +=
                                        X[((c * I[0] + i0) * I[1] + i1) * I[2] + i2] *
                                        W[(((c * M + m) * K[0] + k0) * K[1] + k1) * K[2] + k2];
                                }
    T_ASSERT_CLOSE(outs[0].data, ref, kn_tensor_numel(&outs[0]), 1e-4, 1e-5);
    t_gradcheck(g, node, in, 7, true, 1e-2f, 1e-2, 2e-3);
    kn_tensor_release(&outs[0]);
    kn_tensor_release(&x); kn_tensor_release(&w); kn_tensor_release(&b);
    kn_graph_free(g);
}

/* ---- 3-D pooling ---- */

/* Direct 3-D pooling; idx gets the row-major flat index of the max within the volume. */
static void ref_pool3d(const geo3 *g, bool max, bool cip, const float *x, float *y, int64_t *idx)
{
    const int64_t *O = g->out, *I = g->in, vol = I[0] * I[1] * I[2], ovol = O[0] * O[1] * O[2];
    for (int64_t p = 0; p < g->n * g->c; p++)
        for (int64_t o = 0; o < ovol; o++) {
            int64_t oc[3] = {o / (O[1] * O[2]), (o / O[2]) % O[1], o % O[2]};
            double s = 0, best = -INFINITY;
            int64_t cnt = 1, cnt_in = 0, arg = -1;
            for (int i = 0; i < 3; i++) {
                int64_t c = 0;
                for (int64_t k = 0; k < g->k[i]; k++) {
                    int64_t v = oc[i] * g->s[i] - g->pb[i] + k * g->d[i];
                    c += v >= -g->pb[i] && v < I[i] + g->pe[i];
                }
                cnt *= c;
            }
            for (int64_t k0 = 0; k0 < g->k[0]; k0++)
                for (int64_t k1 = 0; k1 < g->k[1]; k1++)
                    for (int64_t k2 = 0; k2 < g->k[2]; k2++) {
                        int64_t i0 = oc[0] * g->s[0] - g->pb[0] + k0 * g->d[0];
                        int64_t i1 = oc[1] * g->s[1] - g->pb[1] + k1 * g->d[1];
                        int64_t i2 = oc[2] * g->s[2] - g->pb[2] + k2 * g->d[2];
                        if (i0 < 0 || i0 >= I[0] || i1 < 0 || i1 >= I[1] || i2 < 0 || i2 >= I[2]) continue;
                        int64_t f = (i0 * I[1] + i1) * I[2] + i2;
                        double v = x[p * vol + f];
                        s += v;
                        cnt_in++;
                        if (v > best) { best = v; arg = f; }
                    }
            y[p * ovol + o] = (float)(max ? best : s / (double)(cip ? cnt : cnt_in));
            if (idx) idx[p * ovol + o] = arg;
        }
}

static geo3 pool_geo(void)
{
    geo3 ge = {.n = 2, .c = 3, .in = {5, 4, 6}, .k = {2, 3, 2}, .s = {2, 1, 2}, .d = {1, 1, 2}, .pb = {1, 1, 0},
               .pe = {0, 1, 1}};
    geo3_finish(&ge);
    return ge;
}

static int pool_graph(kn_graph **g, const char *op, const kn_tensor *x, const geo3 *ge, int n_out)
{
    int node = t_single_node_graph(g, op, 1, x, n_out);
    set_ints(*g, node, "kernel_shape", 3, ge->k);
    set_ints(*g, node, "strides", 3, ge->s);
    set_ints(*g, node, "dilations", 3, ge->d);
    int64_t pads[6] = {ge->pb[0], ge->pb[1], ge->pb[2], ge->pe[0], ge->pe[1], ge->pe[2]};
    set_ints(*g, node, "pads", 6, pads);
    return node;
}

Test(pool3d, maxpool_values_indices_and_gradient)
{
    geo3 ge = pool_geo();
    kn_tensor x = t_new_rand(7, -1, 1, 5, 2, 3, 5, 4, 6);
    kn_graph *g;
    int node = pool_graph(&g, "MaxPool", &x, &ge, 2);
    T_OK(kn_node_set_int(g, node, "storage_order", 1));
    kn_tensor *in[1] = {&x}, outs[2] = {{0}}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, false));
    const int64_t ny = kn_tensor_numel(&outs[0]), vol = 5 * 4 * 6;
    for (int i = 0; i < 3; i++) cr_assert_eq(outs[0].shape[2 + i], ge.out[i]);
    float *ref = malloc(sizeof(float) * (size_t)ny);
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)ny);
    ref_pool3d(&ge, true, false, x.data, ref, idx);
    T_ASSERT_CLOSE(outs[0].data, ref, ny, 0, 0);
    cr_assert_eq(outs[1].dtype, KN_INT64);
    const int64_t *got = outs[1].data;
    for (int64_t j = 0; j < ny; j++) { /* storage_order 1: column-major within the volume */
        int64_t a = idx[j], i0 = a / 24, i1 = (a / 6) % 4, i2 = a % 6;
        int64_t want = (j / (ny / 6)) * vol + i0 + 5 * (i1 + 4 * i2);
        cr_assert_eq(got[j], want, "index %lld: %lld, expected %lld", (long long)j, (long long)got[j], (long long)want);
    }
    t_gradcheck(g, node, in, 1, true, 1e-3f, 1e-2, 1e-3);
    free(ref);
    free(idx);
    kn_tensor_release(&outs[0]); kn_tensor_release(&outs[1]);
    kn_tensor_release(&x);
    kn_graph_free(g);
}

Test(pool3d, averagepool_both_divisors_with_gradient)
{
    geo3 ge = pool_geo();
    kn_tensor x = t_new_rand(8, -1, 1, 5, 2, 3, 5, 4, 6);
    for (int cip = 0; cip < 2; cip++) {
        kn_graph *g;
        int node = pool_graph(&g, "AveragePool", &x, &ge, 1);
        T_OK(kn_node_set_int(g, node, "count_include_pad", cip));
        kn_tensor *in[1] = {&x}, outs[1] = {{0}}, state[KN_OP_MAX_STATE] = {0};
        T_OK(t_run_node(g, node, in, outs, state, false));
        const int64_t ny = kn_tensor_numel(&outs[0]);
        float *ref = malloc(sizeof(float) * (size_t)ny);
        ref_pool3d(&ge, false, cip, x.data, ref, NULL);
        T_ASSERT_CLOSE(outs[0].data, ref, ny, 1e-5, 1e-6);
        t_gradcheck(g, node, in, 1, true, 1e-2f, 1e-2, 1e-3);
        free(ref);
        kn_tensor_release(&outs[0]);
        kn_graph_free(g);
    }
    kn_tensor_release(&x);
}

/* Integer MaxPool is exact: it must equal the float pooling of the same values. */
Test(pool3d, maxpool_integer_types_match_float)
{
    const kn_dtype types[] = {KN_UINT8, KN_INT8, KN_INT32, KN_INT64};
    int64_t shape[4] = {1, 2, 5, 5};
    kn_tensor xf = t_new(4, 1, 2, 5, 5);
    float *F = xf.data;
    for (int i = 0; i < 50; i++) F[i] = (float)((i * 37) % 101);
    int64_t k[2] = {3, 3}, s[2] = {2, 2}, p[4] = {1, 1, 1, 1};
    kn_tensor ref[1] = {{0}};
    kn_graph *gf;
    int nf = t_single_node_graph(&gf, "MaxPool", 1, &xf, 1);
    set_ints(gf, nf, "kernel_shape", 2, k); set_ints(gf, nf, "strides", 2, s); set_ints(gf, nf, "pads", 4, p);
    kn_tensor *inf[1] = {&xf}, st[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(gf, nf, inf, ref, st, false));
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        kn_tensor x;
        T_OK(kn_tensor_init(&x, types[t], 4, shape));
        T_OK(kn_kernels_get(KN_CPU)->cast(KN_FLOAT, types[t], 50, F, x.data));
        kn_graph *g;
        int node = t_single_node_graph(&g, "MaxPool", 1, &x, 1);
        set_ints(g, node, "kernel_shape", 2, k); set_ints(g, node, "strides", 2, s); set_ints(g, node, "pads", 4, p);
        kn_tensor *in[1] = {&x}, outs[1] = {{0}}, state[KN_OP_MAX_STATE] = {0};
        T_OK(t_run_node(g, node, in, outs, state, false));
        cr_assert_eq(outs[0].dtype, types[t]);
        for (int64_t i = 0; i < kn_tensor_numel(&ref[0]); i++)
            cr_assert_eq(kn_tensor_get_f64(&outs[0], i), ((float *)ref[0].data)[i], "%s element %lld",
                         kn_dtype_name(types[t]), (long long)i);
        kn_tensor_release(&outs[0]);
        kn_tensor_release(&x);
        kn_graph_free(g);
    }
    kn_tensor_release(&ref[0]);
    kn_tensor_release(&xf);
    kn_graph_free(gf);
}

/* ---- Max / Min on float16 ---- */

Test(variadic, max_min_float16_broadcast)
{
    int64_t sa[2] = {2, 3}, sb[1] = {3};
    const float av[6] = {1.5f, -2.0f, 3.25f, 0.0f, -7.5f, 65504.0f}, bv[3] = {0.5f, -1.0f, 4.0f};
    kn_tensor a, b;
    T_OK(kn_tensor_init(&a, KN_FLOAT16, 2, sa));
    T_OK(kn_tensor_init(&b, KN_FLOAT16, 1, sb));
    for (int i = 0; i < 6; i++) ((uint16_t *)a.data)[i] = kn_float_to_half(av[i]);
    for (int i = 0; i < 3; i++) ((uint16_t *)b.data)[i] = kn_float_to_half(bv[i]);
    const char *ops[2] = {"Max", "Min"};
    for (int o = 0; o < 2; o++) {
        kn_tensor meta[2] = {a, b};
        kn_graph *g;
        int node = t_single_node_graph(&g, ops[o], 2, meta, 1);
        kn_tensor *in[2] = {&a, &b}, outs[1] = {{0}}, state[KN_OP_MAX_STATE] = {0};
        T_OK(t_run_node(g, node, in, outs, state, false));
        cr_assert_eq(outs[0].dtype, KN_FLOAT16);
        for (int i = 0; i < 6; i++) {
            float x = av[i], z = bv[i % 3], want = o == 0 ? fmaxf(x, z) : fminf(x, z);
            cr_assert_float_eq(kn_half_to_float(((uint16_t *)outs[0].data)[i]), want, 0, "%s element %d", ops[o], i);
        }
        kn_tensor_release(&outs[0]);
        kn_graph_free(g);
    }
    kn_tensor_release(&a);
    kn_tensor_release(&b);
}

/* ---- unary math ---- */

static double ref_mish(double v) { return v * tanh(log1p(exp(v))); }

typedef struct un_case {
    const char *op;
    double (*ref)(double);
    float lo, hi; /* domain of the test values */
} un_case;

static void run_unary(const char *op, const kn_tensor *x, kn_graph **g, int *node, kn_tensor *out)
{
    *node = t_single_node_graph(g, op, 1, x, 1);
    kn_tensor *in[1] = {(kn_tensor *)x}, state[KN_OP_MAX_STATE] = {0};
    out[0] = (kn_tensor){0};
    T_OK(t_run_node(*g, *node, in, out, state, false));
}

Test(unary_more, math_ops_match_libm_with_gradients)
{
    const un_case cases[] = {
        {"Acos", acos, -0.9f, 0.9f},   {"Asin", asin, -0.9f, 0.9f},  {"Atan", atan, -3, 3},
        {"Acosh", acosh, 1.2f, 4},     {"Asinh", asinh, -3, 3},      {"Atanh", atanh, -0.9f, 0.9f},
        {"Cosh", cosh, -3, 3},         {"Sinh", sinh, -3, 3},        {"Tan", tan, -1.2f, 1.2f},
        {"Mish", ref_mish, -4, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        kn_tensor x = t_new_rand(100 + i, cases[i].lo, cases[i].hi, 2, 3, 7), out[1];
        kn_graph *g;
        int node;
        run_unary(cases[i].op, &x, &g, &node, out);
        float ref[21];
        for (int j = 0; j < 21; j++) ref[j] = (float)cases[i].ref(((float *)x.data)[j]);
        cr_assert(t_close_ratio(out[0].data, ref, 21, 1e-5, 1e-6) <= 1, "%s differs from libm", cases[i].op);
        kn_tensor *in[1] = {&x};
        t_gradcheck(g, node, in, 1, false, 1e-3f, 1e-2, 1e-3);
        kn_tensor_release(&out[0]);
        kn_tensor_release(&x);
        kn_graph_free(g);
    }
}

Test(unary_more, thresholded_relu_and_shrink_attributes)
{
    const float xv[6] = {-2.5f, -1.1f, -0.2f, 0.3f, 1.5f, 3.0f}; /* none on a jump */
    kn_tensor x = t_new(1, 6);
    memcpy(x.data, xv, sizeof xv);
    /* ThresholdedRelu alpha 1.2: keep x > alpha */
    kn_graph *g = NULL;
    int node = t_single_node_graph(&g, "ThresholdedRelu", 1, &x, 1);
    T_OK(kn_node_set_float(g, node, "alpha", 1.2f));
    kn_tensor *in[1] = {&x}, out[1] = {{0}}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, out, state, false));
    const float tr[6] = {0, 0, 0, 0, 1.5f, 3.0f};
    T_ASSERT_CLOSE(out[0].data, tr, 6, 0, 0);
    t_gradcheck(g, node, in, 1, false, 1e-3f, 1e-2, 1e-3);
    kn_tensor_release(&out[0]);
    kn_graph_free(g);
    /* Shrink lambd 1, bias 0.5: x < -1 -> x + 0.5, x > 1 -> x - 0.5, else 0 */
    node = t_single_node_graph(&g, "Shrink", 1, &x, 1);
    T_OK(kn_node_set_float(g, node, "lambd", 1.0f));
    T_OK(kn_node_set_float(g, node, "bias", 0.5f));
    T_OK(t_run_node(g, node, in, out, state, false));
    const float sh[6] = {-2.0f, -0.6f, 0, 0, 1.0f, 2.5f};
    T_ASSERT_CLOSE(out[0].data, sh, 6, 1e-6, 1e-7);
    t_gradcheck(g, node, in, 1, false, 1e-3f, 1e-2, 1e-3);
    kn_tensor_release(&out[0]);
    kn_graph_free(g);
    kn_tensor_release(&x);
}

Test(unary_more, neg_and_abs_on_int64_and_float_only_elsewhere)
{
    int64_t s[1] = {5};
    const int64_t v[5] = {-7, 0, 3, -1, INT64_MAX};
    kn_tensor x;
    T_OK(kn_tensor_init(&x, KN_INT64, 1, s));
    memcpy(x.data, v, sizeof v);
    const char *ops[2] = {"Neg", "Abs"};
    for (int o = 0; o < 2; o++) {
        kn_graph *g;
        int node;
        kn_tensor out[1];
        run_unary(ops[o], &x, &g, &node, out);
        cr_assert_eq(out[0].dtype, KN_INT64);
        for (int i = 0; i < 5; i++) {
            int64_t want = o == 0 ? -v[i] : (v[i] < 0 ? -v[i] : v[i]);
            cr_assert_eq(((int64_t *)out[0].data)[i], want, "%s element %d", ops[o], i);
        }
        kn_tensor_release(&out[0]);
        kn_graph_free(g);
    }
    kn_graph *g;
    kn_tensor o, *pin[1] = {&x}, *po[1] = {&o};
    int node = t_single_node_graph(&g, "Sin", 1, &x, 1);
    cr_assert_eq(kn_node_infer(g, &g->nodes[node], pin, po), KN_ERR_UNSUPPORTED);
    cr_assert(strstr(kn_last_error(), "node 'n0'") && strstr(kn_last_error(), "int64"), "%s", kn_last_error());
    kn_graph_free(g);
    kn_tensor_release(&x);
}

Test(unary_more, isnan_isinf_masks)
{
    const float v[6] = {1.0f, NAN, INFINITY, -INFINITY, -0.0f, 3e38f};
    kn_tensor x = t_new(2, 2, 3);
    memcpy(x.data, v, sizeof v);
    const struct { const char *op; int pos, neg; uint8_t want[6]; } cases[] = {
        {"IsNaN", 1, 1, {0, 1, 0, 0, 0, 0}},
        {"IsInf", 1, 1, {0, 0, 1, 1, 0, 0}},
        {"IsInf", 1, 0, {0, 0, 1, 0, 0, 0}},
        {"IsInf", 0, 1, {0, 0, 0, 1, 0, 0}},
        {"IsInf", 0, 0, {0, 0, 0, 0, 0, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        kn_graph *g;
        int node = t_single_node_graph(&g, cases[i].op, 1, &x, 1);
        if (!strcmp(cases[i].op, "IsInf")) {
            T_OK(kn_node_set_int(g, node, "detect_positive", cases[i].pos));
            T_OK(kn_node_set_int(g, node, "detect_negative", cases[i].neg));
        }
        kn_tensor *in[1] = {&x}, out[1] = {{0}}, state[KN_OP_MAX_STATE] = {0};
        T_OK(t_run_node(g, node, in, out, state, false));
        cr_assert(out[0].dtype == KN_BOOL && out[0].ndim == 2);
        cr_assert_arr_eq(out[0].data, cases[i].want, 6, "%s case %zu", cases[i].op, i);
        kn_tensor_release(&out[0]);
        kn_graph_free(g);
    }
    kn_tensor_release(&x);
}

/* ---- LayerNormalization ---- */

Test(layer_norm, values_stats_and_gradients)
{
    kn_tensor x = t_new_rand(31, -2, 2, 3, 2, 3, 4), sc = t_new_rand(32, 0.5f, 1.5f, 2, 3, 4),
              b = t_new_rand(33, -1, 1, 2, 3, 4);
    kn_tensor meta[3] = {x, sc, b}, *in[3] = {&x, &sc, &b};
    kn_graph *g;
    int node = t_single_node_graph(&g, "LayerNormalization", 3, meta, 3);
    T_OK(kn_node_set_int(g, node, "axis", -2));
    T_OK(kn_node_set_float(g, node, "epsilon", 1e-3f));
    kn_tensor outs[3] = {{0}}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, false));
    cr_assert(outs[1].ndim == 3 && outs[1].shape[0] == 2 && outs[1].shape[1] == 1 && outs[1].shape[2] == 1);
    const float *X = x.data, *S = sc.data, *B = b.data;
    float ref[24], rm[2], ri[2];
    for (int r = 0; r < 2; r++) {
        double m = 0, v = 0;
        for (int j = 0; j < 12; j++) m += X[r * 12 + j];
        m /= 12;
        for (int j = 0; j < 12; j++) v += (X[r * 12 + j] - m) * (X[r * 12 + j] - m);
        double is = 1 / sqrt(v / 12 + 1e-3);
        rm[r] = (float)m;
        ri[r] = (float)is;
        for (int j = 0; j < 12; j++) ref[r * 12 + j] = (float)((X[r * 12 + j] - m) * is * S[j] + B[j]);
    }
    T_ASSERT_CLOSE(outs[0].data, ref, 24, 1e-5, 1e-6);
    T_ASSERT_CLOSE(outs[1].data, rm, 2, 1e-6, 1e-7);
    T_ASSERT_CLOSE(outs[2].data, ri, 2, 1e-5, 1e-6);
    for (int i = 0; i < 3; i++) kn_tensor_release(&outs[i]);
    for (int i = 0; i < KN_OP_MAX_STATE; i++) kn_tensor_release(&state[i]);
    kn_graph_free(g);
    node = t_single_node_graph(&g, "LayerNormalization", 3, meta, 1);
    T_OK(kn_node_set_int(g, node, "axis", 1));
    t_gradcheck(g, node, in, 7, true, 1e-2f, 1e-2, 2e-3);
    kn_graph_free(g);
    kn_tensor_release(&x); kn_tensor_release(&sc); kn_tensor_release(&b);
}

Test(layer_norm, unknown_dims_and_errors)
{
    int64_t xs[3] = {KN_DIM_UNKNOWN, 5, 4}, ss[1] = {4}, bad[1] = {3};
    kn_tensor mx, ms, out[2], *pin[2] = {&mx, &ms}, *po[2] = {&out[0], &out[1]};
    kn_tensor_meta(&mx, KN_FLOAT, 3, xs);
    kn_tensor_meta(&ms, KN_FLOAT, 1, ss);
    kn_tensor meta[2] = {mx, ms};
    kn_graph *g;
    int node = t_single_node_graph(&g, "LayerNormalization", 2, meta, 2);
    memset(out, 0, sizeof out);
    T_OK(kn_node_infer(g, &g->nodes[node], pin, po));
    cr_assert(out[0].shape[0] == KN_DIM_UNKNOWN && out[0].shape[2] == 4);
    cr_assert(out[1].shape[0] == KN_DIM_UNKNOWN && out[1].shape[1] == 5 && out[1].shape[2] == 1);
    kn_tensor_meta(&ms, KN_FLOAT, 1, bad);
    cr_assert_eq(kn_node_infer(g, &g->nodes[node], pin, po), KN_ERR_UNSUPPORTED);
    cr_assert(strstr(kn_last_error(), "node 'n0'") && strstr(kn_last_error(), "Scale"), "%s", kn_last_error());
    kn_graph_free(g);
}
