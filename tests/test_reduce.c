/* Reductions: the kernel for every kn_redop against a plain loop, every
 * Reduce* op over adjacent and non-adjacent axes with and without keepdims,
 * axes as attribute or input, noop_with_empty_axes, gradients by finite
 * differences, ArgMax/ArgMin, and the errors. */
#include "helpers.h"

#include <math.h>
#include <string.h>

static double ref_init(kn_redop op)
{
    return op == KN_RED_PROD ? 1 : op == KN_RED_MAX ? -INFINITY : op == KN_RED_MIN ? INFINITY : 0;
}

static double ref_acc(kn_redop op, double acc, double v)
{
    switch (op) {
    case KN_RED_PROD: return acc * v;
    case KN_RED_MAX: return fmax(acc, v);
    case KN_RED_MIN: return fmin(acc, v);
    case KN_RED_L1: return acc + fabs(v);
    case KN_RED_L2: case KN_RED_SUM_SQUARE: return acc + v * v;
    case KN_RED_LOG_SUM_EXP: return acc + exp(v);
    default: return acc + v;
    }
}

static double ref_fin(kn_redop op, double acc, double count)
{
    switch (op) {
    case KN_RED_MEAN: return acc / count;
    case KN_RED_L2: return sqrt(acc);
    case KN_RED_LOG_SUM: case KN_RED_LOG_SUM_EXP: return log(acc);
    default: return acc;
    }
}

/* Reduce x (shape sh, rank nd) over the dims flagged in red into y (keepdims layout). */
static void ref_reduce(kn_redop op, int nd, const int64_t *sh, const bool *red, const float *x, float *y, int64_t *ny)
{
    int64_t total = 1, ys[KN_MAX_DIMS], n_out = 1, count = 1;
    for (int d = 0; d < nd; d++) {
        total *= sh[d];
        ys[d] = red[d] ? 1 : sh[d];
        n_out *= ys[d];
        if (red[d]) count *= sh[d];
    }
    double acc[1024];
    for (int64_t j = 0; j < n_out; j++) acc[j] = ref_init(op);
    for (int64_t i = 0; i < total; i++) {
        int64_t rem = i, yi = 0, mul = 1;
        for (int d = nd - 1; d >= 0; d--) {
            int64_t idx = rem % sh[d];
            rem /= sh[d];
            if (!red[d]) yi += idx * mul;
            mul *= ys[d];
        }
        acc[yi] = ref_acc(op, acc[yi], x[i]);
    }
    for (int64_t j = 0; j < n_out; j++) y[j] = (float)ref_fin(op, acc[j], (double)count);
    *ny = n_out;
}

static const kn_redop all_ops[] = {KN_RED_SUM, KN_RED_MEAN, KN_RED_MAX, KN_RED_MIN, KN_RED_PROD,
                                   KN_RED_L1, KN_RED_L2, KN_RED_LOG_SUM, KN_RED_LOG_SUM_EXP, KN_RED_SUM_SQUARE};
static const char *op_names[] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                                 "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};

Test(kernel_reduce, every_op_matches_reference)
{
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    const int shapes[][3] = {{3, 4, 1}, {2, 5, 3}, {1, 6, 300}, {4, 1, 2}};
    for (size_t s = 0; s < 4; s++) {
        int64_t sh[3] = {shapes[s][0], shapes[s][1], shapes[s][2]};
        bool red[3] = {false, true, false};
        int n = shapes[s][0] * shapes[s][1] * shapes[s][2];
        kn_tensor x = t_new_rand(s + 1, 0.5f, 1.5f, 1, n), y = t_new(1, n), r = t_new(1, n);
        for (size_t oi = 0; oi < 10; oi++) {
            int64_t ny;
            T_OK(k->reduce(all_ops[oi], sh[0], sh[1], sh[2], x.data, y.data));
            ref_reduce(all_ops[oi], 3, sh, red, x.data, r.data, &ny);
            cr_assert(t_close_ratio(y.data, r.data, ny, 1e-5, 1e-6) <= 1.0, "%s on [%d,%d,%d]", op_names[oi],
                      shapes[s][0], shapes[s][1], shapes[s][2]);
        }
        kn_tensor_release(&x); kn_tensor_release(&y); kn_tensor_release(&r);
    }
}

Test(kernel_reduce, nan_and_empty)
{
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    float x[3] = {1, NAN, 2}, y[1];
    T_OK(k->reduce(KN_RED_MAX, 1, 3, 1, x, y));
    cr_assert(isnan(y[0]), "max propagates NaN");
    T_OK(k->reduce(KN_RED_SUM, 1, 0, 1, x, y));
    cr_assert_float_eq(y[0], 0.0f, 0);
    T_OK(k->reduce(KN_RED_PROD, 1, 0, 1, x, y));
    cr_assert_float_eq(y[0], 1.0f, 0);
    float big[2] = {1000, 1000};
    T_OK(k->reduce(KN_RED_LOG_SUM_EXP, 1, 2, 1, big, y));
    cr_assert_float_eq(y[0], 1000.0f + logf(2.0f), 1e-3, "log-sum-exp does not overflow");
}

/* Run op over x [2, 3, 4] reducing the axes given (as attribute, or input when as_input). */
static void check_reduce_op(size_t oi, const int64_t *axes, int naxes, bool keepdims, bool as_input, bool grad)
{
    int64_t sh[3] = {2, 3, 4};
    kn_tensor x = t_new_rand(7 + oi, 0.5f, 1.5f, 3, 2, 3, 4), ax;
    T_OK(kn_tensor_init(&ax, KN_INT64, 1, (int64_t[]){naxes}));
    memcpy(ax.data, axes, sizeof(int64_t) * (size_t)naxes);
    kn_tensor meta[2] = {x, ax};
    kn_graph *g;
    int node = t_single_node_graph(&g, op_names[oi], as_input ? 2 : 1, meta, 1);
    g->opset = as_input ? 18 : 13;
    if (!as_input) T_OK(kn_node_set_ints(g, node, "axes", naxes, axes));
    T_OK(kn_node_set_int(g, node, "keepdims", keepdims));
    kn_tensor *in[2] = {&x, &ax}, outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, false));
    bool red[3] = {naxes == 0, naxes == 0, naxes == 0};
    for (int i = 0; i < naxes; i++) red[axes[i] < 0 ? axes[i] + 3 : axes[i]] = true;
    float ref[24];
    int64_t ny;
    ref_reduce(all_ops[oi], 3, sh, red, x.data, ref, &ny);
    int expect_nd = 0;
    for (int d = 0; d < 3; d++) expect_nd += keepdims || !red[d];
    cr_assert_eq(outs[0].ndim, expect_nd, "%s rank", op_names[oi]);
    cr_assert_eq(kn_tensor_numel(&outs[0]), ny);
    cr_assert(t_close_ratio(outs[0].data, ref, ny, 1e-5, 1e-6) <= 1.0, "%s over %d axes", op_names[oi], naxes);
    if (grad) t_gradcheck(g, node, in, 1, false, 1e-3f, 2e-2, 2e-3);
    kn_tensor_release(&outs[0]);
    kn_tensor_release(&x); kn_tensor_release(&ax);
    kn_graph_free(g);
}

Test(op_reduce, every_op_every_axis_pattern)
{
    const int64_t a_last[1] = {-1}, a_mid[1] = {1}, a_ends[2] = {0, 2}, a_lead[2] = {1, 0}, a_all[3] = {0, 1, 2};
    for (size_t oi = 0; oi < 10; oi++) {
        bool grad = all_ops[oi] != KN_RED_PROD;
        check_reduce_op(oi, a_last, 1, true, false, grad);
        check_reduce_op(oi, a_mid, 1, false, true, false);
        check_reduce_op(oi, a_ends, 2, false, false, grad); /* non-adjacent: two passes */
        check_reduce_op(oi, a_ends, 2, true, true, false);
        check_reduce_op(oi, a_lead, 2, true, false, false);
        check_reduce_op(oi, a_all, 3, false, true, false);
        check_reduce_op(oi, a_all, 0, true, true, grad); /* no axes: everything */
    }
}

Test(op_reduce, reduce_sum_axes_input_and_noop)
{
    kn_tensor x = t_new_rand(3, -1, 1, 2, 2, 3), ax;
    T_OK(kn_tensor_init(&ax, KN_INT64, 1, (int64_t[]){0}));
    kn_tensor meta[2] = {x, ax};
    kn_graph *g;
    int node = t_single_node_graph(&g, "ReduceSum", 2, meta, 1);
    T_OK(kn_node_set_int(g, node, "noop_with_empty_axes", 1));
    kn_tensor *in[2] = {&x, &ax}, outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, false));
    cr_assert_eq(outs[0].ndim, 2);
    T_ASSERT_CLOSE(outs[0].data, x.data, 6, 0, 0);
    t_gradcheck(g, node, in, 1, false, 1e-3f, 1e-2, 1e-3);
    kn_tensor_release(&outs[0]);
    kn_graph_free(g);
    /* ReduceSumSquare with noop still squares (ONNX reference) */
    node = t_single_node_graph(&g, "ReduceSumSquare", 2, meta, 1);
    g->opset = 18;
    T_OK(kn_node_set_int(g, node, "noop_with_empty_axes", 1));
    T_OK(t_run_node(g, node, in, outs, state, false));
    float sq[6];
    for (int i = 0; i < 6; i++) sq[i] = ((float *)x.data)[i] * ((float *)x.data)[i];
    T_ASSERT_CLOSE(outs[0].data, sq, 6, 1e-6, 0);
    kn_tensor_release(&outs[0]);
    kn_graph_free(g);
    kn_tensor_release(&x); kn_tensor_release(&ax);
}

Test(op_reduce, errors_and_unknown_dims)
{
    kn_tensor x = t_new(3, 2, 3, 4);
    kn_graph *g;
    int node = t_single_node_graph(&g, "ReduceMean", 1, &x, 1);
    kn_tensor *in[1] = {&x}, outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(kn_node_set_ints(g, node, "axes", 2, (int64_t[]){1, -2}));
    cr_assert_eq(t_run_node(g, node, in, outs, state, false), KN_ERR_INVALID);
    cr_assert(strstr(kn_last_error(), "node 'n0' (ReduceMean)") && strstr(kn_last_error(), "twice"), "%s", kn_last_error());
    T_OK(kn_node_set_ints(g, node, "axes", 1, (int64_t[]){3}));
    cr_assert_eq(t_run_node(g, node, in, outs, state, false), KN_ERR_INVALID);
    cr_assert(strstr(kn_last_error(), "axis 3"), "%s", kn_last_error());
    T_OK(kn_node_set_ints(g, node, "axes", 1, (int64_t[]){-1}));
    T_OK(kn_node_set_int(g, node, "keepdims", 0));
    kn_tensor mx, o, *pin[1] = {&mx}, *pout[1] = {&o};
    T_OK(kn_tensor_meta(&mx, KN_FLOAT, 3, (int64_t[]){KN_DIM_UNKNOWN, 3, 4}));
    T_OK(kn_node_infer(g, &g->nodes[node], pin, pout));
    cr_assert_eq(o.ndim, 2);
    cr_assert_eq(o.shape[0], KN_DIM_UNKNOWN);
    cr_assert_eq(o.shape[1], 3);
    cr_assert(g->nodes[node].op->infer_data == 2u, "the axes input's values are read by infer");
    kn_tensor_release(&x);
    kn_graph_free(g);
}

/* ---- ArgMax / ArgMin ---- */

Test(op_argmax, keepdims_axis_select_last)
{
    /* [2, 3] with ties in row 0 */
    kn_tensor x = t_new(2, 2, 3);
    float *X = x.data;
    X[0] = 5; X[1] = 1; X[2] = 5;
    X[3] = -1; X[4] = 2; X[5] = -1;
    struct { const char *op; int axis, keep, last; int nd; int64_t want[3]; } cases[] = {
        {"ArgMax", 1, 1, 0, 2, {0, 1}},    {"ArgMax", 1, 1, 1, 2, {2, 1}}, {"ArgMin", -1, 0, 0, 1, {1, 0}},
        {"ArgMin", 1, 0, 1, 1, {1, 2}},    {"ArgMax", 0, 0, 0, 1, {0, 1, 0}}, {"ArgMin", 0, 1, 0, 2, {1, 0, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        kn_graph *g;
        int node = t_single_node_graph(&g, cases[i].op, 1, &x, 1);
        T_OK(kn_node_set_int(g, node, "axis", cases[i].axis));
        T_OK(kn_node_set_int(g, node, "keepdims", cases[i].keep));
        T_OK(kn_node_set_int(g, node, "select_last_index", cases[i].last));
        kn_tensor *in[1] = {&x}, outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
        T_OK(t_run_node(g, node, in, outs, state, false));
        cr_assert_eq(outs[0].dtype, KN_INT64);
        cr_assert_eq(outs[0].ndim, cases[i].nd, "case %zu", i);
        const int64_t *Y = outs[0].data;
        for (int64_t j = 0; j < kn_tensor_numel(&outs[0]); j++)
            cr_assert_eq(Y[j], cases[i].want[j], "case %zu element %lld: %lld", i, (long long)j, (long long)Y[j]);
        kn_tensor_release(&outs[0]);
        kn_graph_free(g);
    }
    kn_tensor_release(&x);
}

Test(kernel_argreduce, matches_reference_strided)
{
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    const int o = 3, d = 5, in = 4;
    kn_tensor x = t_new_rand(9, -1, 1, 1, o * d * in);
    int64_t y[12];
    const float *X = x.data;
    for (int mn = 0; mn < 2; mn++) {
        T_OK(k->argreduce(mn, false, o, d, in, x.data, y));
        for (int a = 0; a < o; a++)
            for (int c = 0; c < in; c++) {
                int best = 0;
                for (int b = 1; b < d; b++) {
                    float v = X[(a * d + b) * in + c], bv = X[(a * d + best) * in + c];
                    if (mn ? v < bv : v > bv) best = b;
                }
                cr_assert_eq(y[a * in + c], best);
            }
    }
    kn_tensor_release(&x);
}
