/* Softmax / LogSoftmax kernels and ops (opset < 13 coerces to 2-D, >= 13 one
 * axis), SoftmaxCrossEntropyLoss and NegativeLogLikelihoodLoss against plain
 * reference loops, and their gradients by finite differences. */
#include "helpers.h"

#include <math.h>
#include <string.h>

/* softmax over d of [o, d, i] in double */
static void ref_softmax(bool is_log, int outer, int dim, int inner, const float *x, float *y)
{
    for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++) {
            double m = -INFINITY, s = 0;
            for (int d = 0; d < dim; d++) m = fmax(m, x[(o * dim + d) * inner + i]);
            for (int d = 0; d < dim; d++) s += exp(x[(o * dim + d) * inner + i] - m);
            for (int d = 0; d < dim; d++) {
                double v = x[(o * dim + d) * inner + i] - m;
                y[(o * dim + d) * inner + i] = (float)(is_log ? v - log(s) : exp(v) / s);
            }
        }
}

Test(kernel_softmax, matches_reference_rows_and_columns)
{
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    const int shapes[][3] = {{4, 7, 1}, {2, 5, 3}, {1, 3, 300}, {3, 1, 2}};
    for (size_t s = 0; s < 4; s++) {
        int o = shapes[s][0], d = shapes[s][1], i = shapes[s][2];
        kn_tensor x = t_new_rand(s + 1, -5, 5, 1, o * d * i), y = t_new(1, o * d * i), r = t_new(1, o * d * i);
        for (int lg = 0; lg < 2; lg++) {
            T_OK(k->softmax(lg, o, d, i, x.data, y.data));
            ref_softmax(lg, o, d, i, x.data, r.data);
            T_ASSERT_CLOSE(y.data, r.data, o * d * i, 1e-5, 1e-6);
        }
        kn_tensor_release(&x); kn_tensor_release(&y); kn_tensor_release(&r);
    }
}

Test(kernel_softmax, large_numbers_are_stable)
{
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    float x[4] = {1000, 1001, 1002, 1003}, y[4], l[4];
    T_OK(k->softmax(false, 1, 4, 1, x, y));
    T_OK(k->softmax(true, 1, 4, 1, x, l));
    float ry[4], rl[4];
    ref_softmax(false, 1, 4, 1, x, ry);
    ref_softmax(true, 1, 4, 1, x, rl);
    T_ASSERT_CLOSE(y, ry, 4, 1e-5, 1e-7);
    T_ASSERT_CLOSE(l, rl, 4, 1e-5, 1e-6);
}

Test(kernel_softmax, backward_matches_reference)
{
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    const int o = 2, d = 4, i = 3, n = o * d * i;
    kn_tensor x = t_new_rand(3, -2, 2, 1, n), gy = t_new_rand(4, -1, 1, 1, n);
    float y[24], gx[24], ref[24];
    for (int lg = 0; lg < 2; lg++) {
        T_OK(k->softmax(lg, o, d, i, x.data, y));
        for (int j = 0; j < n; j++) gx[j] = 0.5f; /* accumulates */
        T_OK(k->softmax_bwd(lg, o, d, i, y, gy.data, gx));
        const float *G = gy.data;
        for (int a = 0; a < o; a++)
            for (int c = 0; c < i; c++) {
                double s = 0;
                for (int b = 0; b < d; b++) {
                    int j = (a * d + b) * i + c;
                    s += lg ? G[j] : (double)G[j] * y[j];
                }
                for (int b = 0; b < d; b++) {
                    int j = (a * d + b) * i + c;
                    ref[j] = 0.5f + (float)(lg ? G[j] - exp(y[j]) * s : y[j] * (G[j] - s));
                }
            }
        T_ASSERT_CLOSE(gx, ref, n, 1e-5, 1e-6);
    }
    kn_tensor_release(&x); kn_tensor_release(&gy);
}

/* ---- Softmax / LogSoftmax ops ---- */

static void run_softmax(const char *op, int opset, int axis, bool set_axis, kn_tensor *x, kn_tensor *out)
{
    kn_graph *g;
    int node = t_single_node_graph(&g, op, 1, x, 1);
    g->opset = opset;
    if (set_axis) T_OK(kn_node_set_int(g, node, "axis", axis));
    kn_tensor *in[1] = {x}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, out, state, false));
    t_gradcheck(g, node, in, 1, false, 1e-3f, 2e-2, 2e-3);
    kn_graph_free(g);
}

Test(op_softmax, opset13_one_axis_vs_opset11_coerced)
{
    kn_tensor x = t_new_rand(5, -3, 3, 3, 2, 3, 4);
    float ref[24];
    for (int lg = 0; lg < 2; lg++) {
        const char *op = lg ? "LogSoftmax" : "Softmax";
        kn_tensor o13[1] = {0}, o11[1] = {0}, odef13[1] = {0}, odef11[1] = {0};
        run_softmax(op, 13, 1, true, &x, o13);
        ref_softmax(lg, 2, 3, 4, x.data, ref); /* axis 1 alone */
        T_ASSERT_CLOSE(o13[0].data, ref, 24, 1e-5, 1e-6);
        run_softmax(op, 11, 1, true, &x, o11);
        ref_softmax(lg, 2, 12, 1, x.data, ref); /* [2, 3*4] rows */
        T_ASSERT_CLOSE(o11[0].data, ref, 24, 1e-5, 1e-6);
        cr_assert(t_close_ratio(o13[0].data, o11[0].data, 24, 1e-3, 1e-4) > 1.0, "opset semantics differ");
        run_softmax(op, 13, 0, false, &x, odef13); /* default axis -1 */
        ref_softmax(lg, 6, 4, 1, x.data, ref);
        T_ASSERT_CLOSE(odef13[0].data, ref, 24, 1e-5, 1e-6);
        run_softmax(op, 12, 0, false, &x, odef11); /* default axis 1, coerced */
        ref_softmax(lg, 2, 12, 1, x.data, ref);
        T_ASSERT_CLOSE(odef11[0].data, ref, 24, 1e-5, 1e-6);
        run_softmax(op, 13, -3, true, &x, odef13); /* negative axis */
        ref_softmax(lg, 1, 2, 12, x.data, ref);
        T_ASSERT_CLOSE(odef13[0].data, ref, 24, 1e-5, 1e-6);
        kn_tensor_release(&o13[0]); kn_tensor_release(&o11[0]);
        kn_tensor_release(&odef13[0]); kn_tensor_release(&odef11[0]);
    }
    kn_tensor_release(&x);
}

Test(op_softmax, bad_axis_names_node_and_unknown_dims_propagate)
{
    kn_tensor x = t_new(2, 2, 3);
    kn_graph *g;
    int node = t_single_node_graph(&g, "Softmax", 1, &x, 1);
    T_OK(kn_node_set_int(g, node, "axis", 2));
    kn_tensor *in[1] = {&x}, outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    cr_assert_eq(t_run_node(g, node, in, outs, state, false), KN_ERR_INVALID);
    cr_assert(strstr(kn_last_error(), "node 'n0' (Softmax)") && strstr(kn_last_error(), "axis"), "%s", kn_last_error());
    T_OK(kn_node_set_int(g, node, "axis", 1));
    kn_tensor meta, o, *pin[1] = {&meta}, *pout[1] = {&o};
    T_OK(kn_tensor_meta(&meta, KN_FLOAT, 2, (int64_t[]){KN_DIM_UNKNOWN, 3}));
    T_OK(kn_node_infer(g, &g->nodes[node], pin, pout));
    cr_assert_eq(o.shape[0], KN_DIM_UNKNOWN);
    cr_assert_eq(o.shape[1], 3);
    kn_tensor_release(&x);
    kn_graph_free(g);
}

/* ---- losses ---- */

static kn_tensor labels_i64(int ndim, const int64_t *shape, const int64_t *vals)
{
    kn_tensor t;
    T_OK(kn_tensor_init(&t, KN_INT64, ndim, shape));
    memcpy(t.data, vals, sizeof(int64_t) * (size_t)kn_tensor_numel(&t));
    return t;
}

/* reference NLL on log-probabilities lp [n, c, inner] */
static void ref_nll(int n, int c, int inner, const float *lp, const int64_t *lab, const float *w, bool has_ii,
                    int64_t ii, int reduction, float *loss)
{
    double tot = 0, ws = 0;
    for (int b = 0; b < n; b++)
        for (int i = 0; i < inner; i++) {
            int64_t t = lab[b * inner + i];
            double wt = (has_ii && t == ii) ? 0 : (w ? w[t] : 1);
            double l = wt ? -wt * lp[(b * c + t) * inner + i] : 0;
            if (reduction == 0) loss[b * inner + i] = (float)l;
            tot += l;
            ws += wt;
        }
    if (reduction == 1) loss[0] = (float)tot;
    if (reduction == 2) loss[0] = (float)(tot / ws);
}

static const char *red_names[3] = {"none", "sum", "mean"};

static void check_loss(const char *op, int reduction, bool weights, bool ii, bool log_prob_out)
{
    const int n = 3, c = 4, inner = 2;
    bool sce = !strcmp(op, "SoftmaxCrossEntropyLoss");
    kn_tensor x = t_new_rand(11, sce ? -3 : -4, sce ? 3 : -0.1f, 3, n, c, inner);
    int64_t lv[6] = {0, 3, 2, 1, 1, 2}, ls[2] = {n, inner};
    kn_tensor lab = labels_i64(2, ls, lv), w = t_new_rand(12, 0.2f, 2, 1, c);
    kn_tensor meta[3] = {x, lab, w};
    kn_graph *g;
    int node = t_single_node_graph(&g, op, weights ? 3 : 2, meta, log_prob_out ? 2 : 1);
    T_OK(kn_node_set_string(g, node, "reduction", red_names[reduction]));
    if (ii) T_OK(kn_node_set_int(g, node, "ignore_index", 1));
    kn_tensor *in[3] = {&x, &lab, &w}, outs[2] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, false));
    float lp[24], ref[6];
    if (sce) ref_softmax(true, n, c, inner, x.data, lp);
    else memcpy(lp, x.data, sizeof lp);
    ref_nll(n, c, inner, lp, lv, weights ? w.data : NULL, ii, 1, reduction, ref);
    cr_assert_eq(outs[0].ndim, reduction == 0 ? 2 : 0);
    T_ASSERT_CLOSE(outs[0].data, ref, reduction == 0 ? 6 : 1, 1e-5, 1e-6);
    if (log_prob_out) T_ASSERT_CLOSE(outs[1].data, lp, 24, 1e-5, 1e-6);
    t_gradcheck(g, node, in, 1, false, 1e-3f, 2e-2, 2e-3);
    for (int i = 0; i < 2; i++) kn_tensor_release(&outs[i]);
    for (int i = 0; i < KN_OP_MAX_STATE; i++) kn_tensor_release(&state[i]);
    kn_tensor_release(&x); kn_tensor_release(&lab); kn_tensor_release(&w);
    kn_graph_free(g);
}

Test(op_sce, reductions_weights_ignore_index)
{
    for (int r = 0; r < 3; r++) {
        check_loss("SoftmaxCrossEntropyLoss", r, false, false, false);
        check_loss("SoftmaxCrossEntropyLoss", r, true, true, false);
        check_loss("SoftmaxCrossEntropyLoss", r, true, false, true);
        check_loss("SoftmaxCrossEntropyLoss", r, false, true, true);
    }
}

Test(op_nll, reductions_weights_ignore_index)
{
    for (int r = 0; r < 3; r++) {
        check_loss("NegativeLogLikelihoodLoss", r, false, false, false);
        check_loss("NegativeLogLikelihoodLoss", r, true, true, false);
    }
}

Test(op_sce, int32_labels_and_2d_scores)
{
    kn_tensor x = t_new_rand(13, -2, 2, 2, 3, 5), lab;
    T_OK(kn_tensor_init(&lab, KN_INT32, 1, (int64_t[]){3}));
    int32_t *l = lab.data;
    l[0] = 4; l[1] = 0; l[2] = 2;
    kn_tensor meta[2] = {x, lab};
    kn_graph *g;
    int node = t_single_node_graph(&g, "SoftmaxCrossEntropyLoss", 2, meta, 1);
    kn_tensor *in[2] = {&x, &lab}, outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, false));
    float lp[15], ref[1];
    int64_t l64[3] = {4, 0, 2};
    ref_softmax(true, 3, 5, 1, x.data, lp);
    ref_nll(3, 5, 1, lp, l64, NULL, false, 0, 2, ref);
    T_ASSERT_CLOSE(outs[0].data, ref, 1, 1e-5, 1e-6);
    t_gradcheck(g, node, in, 1, false, 1e-3f, 2e-2, 2e-3);
    kn_tensor_release(&outs[0]);
    for (int i = 0; i < KN_OP_MAX_STATE; i++) kn_tensor_release(&state[i]);
    kn_tensor_release(&x); kn_tensor_release(&lab);
    kn_graph_free(g);
}

Test(op_sce, errors_name_the_node)
{
    kn_tensor x = t_new(3, 2, 3, 4);
    int64_t ls[2] = {2, 4}, lv[8] = {0, 1, 2, 7, 0, 0, 0, 0};
    kn_tensor lab = labels_i64(2, ls, lv);
    kn_tensor meta[2] = {x, lab};
    kn_graph *g;
    int node = t_single_node_graph(&g, "SoftmaxCrossEntropyLoss", 2, meta, 1);
    kn_tensor *in[2] = {&x, &lab}, outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    cr_assert_eq(t_run_node(g, node, in, outs, state, false), KN_ERR_INVALID);
    cr_assert(strstr(kn_last_error(), "label 7"), "%s", kn_last_error());
    T_OK(kn_node_set_string(g, node, "reduction", "average"));
    cr_assert_eq(t_run_node(g, node, in, outs, state, false), KN_ERR_INVALID);
    cr_assert(strstr(kn_last_error(), "node 'n0' (SoftmaxCrossEntropyLoss)") && strstr(kn_last_error(), "average"),
              "%s", kn_last_error());
    /* labels [2, 5] against scores [2, 3, 4] */
    kn_tensor bad_lab, o, *pin[2] = {&x, &bad_lab}, *pout[1] = {&o};
    T_OK(kn_tensor_meta(&bad_lab, KN_INT64, 2, (int64_t[]){2, 5}));
    T_OK(kn_node_set_string(g, node, "reduction", "none"));
    cr_assert_eq(kn_node_infer(g, &g->nodes[node], pin, pout), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "node 'n0'") && strstr(kn_last_error(), "[2,5]"), "%s", kn_last_error());
    /* unknown batch propagates to the per-sample loss */
    kn_tensor mx, ml;
    T_OK(kn_tensor_meta(&mx, KN_FLOAT, 3, (int64_t[]){KN_DIM_UNKNOWN, 3, 4}));
    T_OK(kn_tensor_meta(&ml, KN_INT64, 2, (int64_t[]){KN_DIM_UNKNOWN, 4}));
    pin[0] = &mx; pin[1] = &ml;
    T_OK(kn_node_infer(g, &g->nodes[node], pin, pout));
    cr_assert_eq(o.ndim, 2);
    cr_assert_eq(o.shape[0], KN_DIM_UNKNOWN);
    cr_assert_eq(o.shape[1], 4);
    kn_tensor_release(&outs[0]);
    for (int i = 0; i < KN_OP_MAX_STATE; i++) kn_tensor_release(&state[i]);
    kn_tensor_release(&x); kn_tensor_release(&lab);
    kn_graph_free(g);
}
