/* BatchNormalization (inference, kiln training with in-place running
 * statistics, ONNX training mode, old-opset outputs), InstanceNormalization
 * and LRN: kernels and ops against plain reference loops, gradients by
 * finite differences, and a training session that updates the graph's stats. */
#include "helpers.h"

#include <math.h>
#include <string.h>

/* per-channel batch mean and biased variance of x [n, c, s] */
static void ref_stats(int n, int c, int s, const float *x, double *mean, double *var)
{
    for (int ch = 0; ch < c; ch++) {
        double sum = 0, sq = 0;
        for (int b = 0; b < n; b++)
            for (int i = 0; i < s; i++) sum += x[(b * c + ch) * s + i];
        mean[ch] = sum / (n * s);
        for (int b = 0; b < n; b++)
            for (int i = 0; i < s; i++) sq += pow(x[(b * c + ch) * s + i] - mean[ch], 2);
        var[ch] = sq / (n * s);
    }
}

static void ref_bn(int n, int c, int s, const float *x, const float *scale, const float *bias, const double *mean,
                   const double *var, float eps, float *y)
{
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < s; i++) {
                int j = (b * c + ch) * s + i;
                y[j] = (float)(scale[ch] * (x[j] - mean[ch]) / sqrt(var[ch] + eps) + bias[ch]);
            }
}

Test(kernel_batchnorm, infer_and_train_match_reference)
{
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    const int n = 3, c = 4, s = 5, total = n * c * s;
    kn_tensor x = t_new_rand(1, -2, 3, 1, total), sc = t_new_rand(2, 0.5f, 1.5f, 1, c), bi = t_new_rand(3, -1, 1, 1, c);
    kn_tensor mean = t_new_rand(4, -1, 1, 1, c), var = t_new_rand(5, 0.5f, 2, 1, c);
    float y[60], ref[60], sm[4], si[4], rm[4], rv[4];
    double dm[4], dv[4];
    const float *M = mean.data, *V = var.data;
    for (int i = 0; i < c; i++) { dm[i] = M[i]; dv[i] = V[i]; }
    T_OK(k->batchnorm_infer(n, c, s, x.data, sc.data, bi.data, mean.data, var.data, 1e-3f, y));
    ref_bn(n, c, s, x.data, sc.data, bi.data, dm, dv, 1e-3f, ref);
    T_ASSERT_CLOSE(y, ref, total, 1e-5, 1e-5);

    memcpy(rm, mean.data, sizeof rm);
    memcpy(rv, var.data, sizeof rv);
    T_OK(k->batchnorm_train(n, c, s, x.data, sc.data, bi.data, 1e-5f, 0.8f, rm, rv, y, sm, si));
    ref_stats(n, c, s, x.data, dm, dv);
    ref_bn(n, c, s, x.data, sc.data, bi.data, dm, dv, 1e-5f, ref);
    T_ASSERT_CLOSE(y, ref, total, 1e-5, 1e-5);
    for (int ch = 0; ch < c; ch++) {
        double unbiased = dv[ch] * (n * s) / (n * s - 1);
        cr_assert_float_eq(sm[ch], (float)dm[ch], 1e-5);
        cr_assert_float_eq(si[ch], (float)(1 / sqrt(dv[ch] + 1e-5)), 1e-5);
        cr_assert_float_eq(rm[ch], (float)(M[ch] * 0.8 + dm[ch] * 0.2), 1e-5);
        cr_assert_float_eq(rv[ch], (float)(V[ch] * 0.8 + unbiased * 0.2), 1e-5, "running var uses the unbiased variance");
    }
    kn_tensor_release(&x); kn_tensor_release(&sc); kn_tensor_release(&bi);
    kn_tensor_release(&mean); kn_tensor_release(&var);
}

static kn_graph *bn_graph(kn_tensor *in, int n_out, int opset, int *node)
{
    kn_graph *g;
    *node = t_single_node_graph(&g, "BatchNormalization", 5, in, n_out);
    g->opset = opset;
    return g;
}

Test(op_batchnorm, inference_uses_running_stats)
{
    kn_tensor x = t_new_rand(1, -2, 2, 4, 2, 3, 2, 2), sc = t_new_rand(2, 0.5f, 1.5f, 1, 3);
    kn_tensor bi = t_new_rand(3, -1, 1, 1, 3), m = t_new_rand(4, -1, 1, 1, 3), v = t_new_rand(5, 0.5f, 2, 1, 3);
    kn_tensor meta[5] = {x, sc, bi, m, v};
    int node;
    kn_graph *g = bn_graph(meta, 1, 15, &node);
    T_OK(kn_node_set_float(g, node, "epsilon", 0.01f));
    kn_tensor *in[5] = {&x, &sc, &bi, &m, &v}, outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, false));
    double dm[3], dv[3];
    for (int i = 0; i < 3; i++) { dm[i] = ((float *)m.data)[i]; dv[i] = ((float *)v.data)[i]; }
    float ref[24];
    ref_bn(2, 3, 4, x.data, sc.data, bi.data, dm, dv, 0.01f, ref);
    T_ASSERT_CLOSE(outs[0].data, ref, 24, 1e-5, 1e-5);
    kn_tensor_release(&outs[0]);
    kn_tensor_release(&x); kn_tensor_release(&sc); kn_tensor_release(&bi); kn_tensor_release(&m); kn_tensor_release(&v);
    kn_graph_free(g);
}

Test(op_batchnorm, training_updates_running_stats_in_place)
{
    /* x [2, 1, 2] = {1, 2, 3, 4}: mean 2.5, biased var 1.25, unbiased 5/3 */
    kn_tensor x = t_new(3, 2, 1, 2), sc = t_new(1, 1), bi = t_new(1, 1), m = t_new(1, 1), v = t_new(1, 1);
    float *X = x.data;
    for (int i = 0; i < 4; i++) X[i] = (float)(i + 1);
    ((float *)sc.data)[0] = 2.0f;
    ((float *)bi.data)[0] = 0.5f;
    ((float *)m.data)[0] = 0.0f;
    ((float *)v.data)[0] = 1.0f;
    kn_tensor meta[5] = {x, sc, bi, m, v};
    int node;
    kn_graph *g = bn_graph(meta, 3, 15, &node);
    T_OK(kn_node_set_float(g, node, "momentum", 0.9f));
    kn_tensor *in[5] = {&x, &sc, &bi, &m, &v}, outs[3] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, true));
    cr_assert_float_eq(((float *)m.data)[0], 0.25f, 1e-6);
    cr_assert_float_eq(((float *)v.data)[0], 0.9f + 0.1f * 5.0f / 3.0f, 1e-6);
    cr_assert_float_eq(((float *)outs[1].data)[0], 0.25f, 1e-6, "output 1 is the updated running mean");
    cr_assert_float_eq(((float *)outs[2].data)[0], 0.9f + 0.1f * 5.0f / 3.0f, 1e-6);
    cr_assert_float_eq(((float *)state[0].data)[0], 2.5f, 1e-6);
    cr_assert_float_eq(((float *)state[1].data)[0], (float)(1 / sqrt(1.25 + 1e-5)), 1e-6);
    const float *Y = outs[0].data;
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(Y[i], (float)(2.0 * (i + 1 - 2.5) / sqrt(1.25 + 1e-5) + 0.5), 1e-5);
    /* a second step blends again */
    T_OK(t_run_node(g, node, in, outs, state, true));
    cr_assert_float_eq(((float *)m.data)[0], 0.25f * 0.9f + 0.25f, 1e-6);
    for (int i = 0; i < 3; i++) kn_tensor_release(&outs[i]);
    for (int i = 0; i < KN_OP_MAX_STATE; i++) kn_tensor_release(&state[i]);
    kn_tensor_release(&x); kn_tensor_release(&sc); kn_tensor_release(&bi); kn_tensor_release(&m); kn_tensor_release(&v);
    kn_graph_free(g);
}

Test(op_batchnorm, onnx_training_mode_outputs_leave_inputs_alone)
{
    kn_tensor x = t_new(3, 2, 1, 2), sc = t_new(1, 1), bi = t_new(1, 1), m = t_new(1, 1), v = t_new(1, 1);
    for (int i = 0; i < 4; i++) ((float *)x.data)[i] = (float)(i + 1);
    ((float *)sc.data)[0] = 1.0f;
    ((float *)v.data)[0] = 1.0f;
    kn_tensor meta[5] = {x, sc, bi, m, v};
    int node;
    kn_graph *g = bn_graph(meta, 3, 15, &node);
    T_OK(kn_node_set_int(g, node, "training_mode", 1));
    kn_tensor *in[5] = {&x, &sc, &bi, &m, &v}, outs[3] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, false));
    cr_assert_float_eq(((float *)m.data)[0], 0.0f, 0, "inference never writes the inputs");
    cr_assert_float_eq(((float *)v.data)[0], 1.0f, 0);
    cr_assert_float_eq(((float *)outs[1].data)[0], 0.25f, 1e-6);
    cr_assert_float_eq(((float *)outs[2].data)[0], 0.9f + 0.1f * 1.25f, 1e-5, "ONNX blends the biased variance");
    cr_assert_float_eq(((float *)outs[0].data)[0], (float)(-1.5 / sqrt(1.25 + 1e-5)), 1e-5);
    for (int i = 0; i < 3; i++) kn_tensor_release(&outs[i]);
    for (int i = 0; i < KN_OP_MAX_STATE; i++) kn_tensor_release(&state[i]);
    /* opset 9: five outputs mean training; saved_mean / saved_var are the batch statistics */
    kn_graph *g9 = bn_graph(meta, 5, 9, &node);
    kn_tensor outs5[5] = {0};
    T_OK(t_run_node(g9, node, in, outs5, state, false));
    cr_assert_float_eq(((float *)outs5[1].data)[0], 0.25f, 1e-6);
    cr_assert_float_eq(((float *)outs5[3].data)[0], 2.5f, 1e-6);
    cr_assert_float_eq(((float *)outs5[4].data)[0], 1.25f, 1e-4);
    for (int i = 0; i < 5; i++) kn_tensor_release(&outs5[i]);
    for (int i = 0; i < KN_OP_MAX_STATE; i++) kn_tensor_release(&state[i]);
    kn_tensor_release(&x); kn_tensor_release(&sc); kn_tensor_release(&bi); kn_tensor_release(&m); kn_tensor_release(&v);
    kn_graph_free(g);
    kn_graph_free(g9);
}

static void bn_gradcheck(int ndim, const int *shape)
{
    int64_t s64[KN_MAX_DIMS];
    for (int i = 0; i < ndim; i++) s64[i] = shape[i];
    kn_tensor x;
    T_OK(kn_tensor_init(&x, KN_FLOAT, ndim, s64));
    t_fill_uniform(&x, 21, -2, 2);
    int c = shape[1];
    kn_tensor sc = t_new_rand(22, 0.5f, 1.5f, 1, c), bi = t_new_rand(23, -1, 1, 1, c);
    kn_tensor m = t_new(1, c), v = t_new(1, c);
    kn_tensor meta[5] = {x, sc, bi, m, v};
    int node;
    kn_graph *g = bn_graph(meta, 1, 15, &node);
    kn_tensor *in[5] = {&x, &sc, &bi, &m, &v};
    t_gradcheck(g, node, in, 7, true, 1e-2f, 2e-2, 2e-3);
    kn_tensor_release(&x); kn_tensor_release(&sc); kn_tensor_release(&bi); kn_tensor_release(&m); kn_tensor_release(&v);
    kn_graph_free(g);
}

Test(op_batchnorm, gradients_in_training_mode)
{
    bn_gradcheck(4, (int[]){3, 2, 2, 2});
    bn_gradcheck(2, (int[]){5, 3});
    bn_gradcheck(3, (int[]){2, 2, 3});
}

Test(op_batchnorm, errors_name_node_and_shapes)
{
    kn_tensor x = t_new(3, 2, 3, 4), sc = t_new(1, 4), p = t_new(1, 3);
    kn_tensor meta[5] = {x, sc, p, p, p};
    int node;
    kn_graph *g = bn_graph(meta, 1, 15, &node);
    kn_tensor *in[5] = {&x, &sc, &p, &p, &p}, outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    cr_assert_eq(t_run_node(g, node, in, outs, state, false), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "node 'n0' (BatchNormalization)") && strstr(kn_last_error(), "scale") &&
                  strstr(kn_last_error(), "[2,3,4]"),
              "%s", kn_last_error());
    /* opset 7 spatial=0 is refused by name */
    kn_tensor *in2[5] = {&x, &p, &p, &p, &p};
    g->opset = 7;
    T_OK(kn_node_set_int(g, node, "spatial", 0));
    cr_assert_eq(t_run_node(g, node, in2, outs, state, false), KN_ERR_UNSUPPORTED);
    cr_assert(strstr(kn_last_error(), "spatial"), "%s", kn_last_error());
    /* unknown batch propagates; a known C is checked against it */
    kn_tensor mx, o, *pin[5] = {&mx, &p, &p, &p, &p}, *pout[1] = {&o};
    T_OK(kn_tensor_meta(&mx, KN_FLOAT, 4, (int64_t[]){KN_DIM_UNKNOWN, 3, KN_DIM_UNKNOWN, 5}));
    g->opset = 15;
    T_OK(kn_node_infer(g, &g->nodes[node], pin, pout));
    cr_assert_eq(o.shape[0], KN_DIM_UNKNOWN);
    cr_assert_eq(o.shape[1], 3);
    cr_assert_eq(o.shape[3], 5);
    kn_tensor_release(&x); kn_tensor_release(&sc); kn_tensor_release(&p);
    kn_graph_free(g);
}

/* x -> BatchNormalization -> ReduceMean(all) = loss, in a training session:
 * the graph's running statistics change through the shared initializers. */
Test(op_batchnorm, session_training_updates_graph_initializers)
{
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    int x, s, b, m, v, y, loss, bn;
    T_OK(kn_graph_add_input(g, "x", KN_FLOAT, 2, (int64_t[]){KN_DIM_UNKNOWN, 2}, &x));
    kn_tensor st = t_new(1, 2), bt = t_new(1, 2), mt = t_new(1, 2), vt = t_new(1, 2);
    for (int i = 0; i < 2; i++) { ((float *)st.data)[i] = 1.0f; ((float *)vt.data)[i] = 1.0f; }
    T_OK(kn_graph_add_initializer(g, "scale", &st, KN_VALUE_PARAM, &s));
    T_OK(kn_graph_add_initializer(g, "bias", &bt, KN_VALUE_PARAM, &b));
    T_OK(kn_graph_add_initializer(g, "mean", &mt, KN_VALUE_CONST, &m));
    T_OK(kn_graph_add_initializer(g, "var", &vt, KN_VALUE_CONST, &v));
    T_OK(kn_graph_add_value(g, "y", KN_UNDEFINED, -1, NULL, &y));
    T_OK(kn_graph_add_value(g, "loss", KN_UNDEFINED, -1, NULL, &loss));
    T_OK(kn_graph_add_node(g, "BatchNormalization", "", "bn", 5, (int[]){x, s, b, m, v}, 1, &y, &bn));
    int red;
    T_OK(kn_graph_add_node(g, "ReduceSumSquare", "", "loss", 1, &y, 1, &loss, &red));
    T_OK(kn_node_set_int(g, red, "keepdims", 0));
    T_OK(kn_graph_add_output(g, loss));
    g->loss = loss;
    kn_session_opts o = kn_session_defaults();
    o.training = true;
    kn_session *sess;
    T_OK(kn_session_create(&sess, g, &o));
    kn_tensor xt = t_new(2, 2, 2);
    float *X = xt.data;
    X[0] = 1; X[1] = 10; X[2] = 3; X[3] = 30; /* channel 0: {1, 3}, channel 1: {10, 30} */
    const kn_tensor *ins[1] = {&xt};
    T_OK(kn_session_run(sess, ins, 1));
    T_OK(kn_session_backward(sess));
    const float *M = g->values[m].data.data, *V = g->values[v].data.data;
    cr_assert_float_eq(M[0], 0.2f, 1e-6);          /* 0.9 * 0 + 0.1 * 2 */
    cr_assert_float_eq(M[1], 2.0f, 1e-5);          /* 0.1 * 20 */
    cr_assert_float_eq(V[0], 0.9f + 0.1f * 2.0f, 1e-5);   /* unbiased var of {1, 3} = 2 */
    cr_assert_float_eq(V[1], 0.9f + 0.1f * 200.0f, 1e-4); /* of {10, 30} = 200 */
    /* loss = sum of squares of normalised values = N * C * var / (var + eps) */
    cr_assert_float_eq(kn_session_loss(sess), (float)(2 * (1 / (1 + 1e-5)) + 2 * (100 / (100 + 1e-5))), 1e-4);
    /* d loss / d bias = 2 * sum(y) = 0 for a normalised batch */
    const kn_tensor *gb = kn_session_grad(sess, 1);
    cr_assert_not_null(gb);
    cr_assert_float_eq(((float *)gb->data)[0], 0.0f, 1e-4);
    kn_session_free(sess);
    kn_tensor_release(&xt);
    kn_graph_free(g);
}

/* ---- InstanceNormalization, LRN ---- */

Test(op_instancenorm, forward_and_gradients)
{
    const int n = 2, c = 3, s = 4;
    kn_tensor x = t_new_rand(31, -2, 2, 3, n, c, s), sc = t_new_rand(32, 0.5f, 1.5f, 1, c), bi = t_new_rand(33, -1, 1, 1, c);
    kn_tensor meta[3] = {x, sc, bi};
    kn_graph *g;
    int node = t_single_node_graph(&g, "InstanceNormalization", 3, meta, 1);
    T_OK(kn_node_set_float(g, node, "epsilon", 0.01f));
    kn_tensor *in[3] = {&x, &sc, &bi}, outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, false));
    float ref[24];
    for (int b = 0; b < n; b++) {
        double dm[3], dv[3];
        ref_stats(1, c, s, (float *)x.data + b * c * s, dm, dv);
        ref_bn(1, c, s, (float *)x.data + b * c * s, sc.data, bi.data, dm, dv, 0.01f, ref + b * c * s);
    }
    T_ASSERT_CLOSE(outs[0].data, ref, 24, 1e-5, 1e-5);
    t_gradcheck(g, node, in, 7, false, 1e-2f, 2e-2, 2e-3);
    kn_tensor_release(&outs[0]);
    for (int i = 0; i < KN_OP_MAX_STATE; i++) kn_tensor_release(&state[i]);
    kn_tensor_release(&x); kn_tensor_release(&sc); kn_tensor_release(&bi);
    kn_graph_free(g);
}

Test(op_lrn, matches_reference)
{
    const int n = 2, c = 5, s = 3, size = 4; /* even size: window [c-1, c+2] */
    kn_tensor x = t_new_rand(41, -2, 2, 4, n, c, 1, s);
    kn_graph *g;
    int node = t_single_node_graph(&g, "LRN", 1, &x, 1);
    T_OK(kn_node_set_int(g, node, "size", size));
    T_OK(kn_node_set_float(g, node, "alpha", 0.1f));
    T_OK(kn_node_set_float(g, node, "beta", 0.6f));
    T_OK(kn_node_set_float(g, node, "bias", 2.0f));
    kn_tensor *in[1] = {&x}, outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, false));
    const float *X = x.data;
    float ref[30];
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < s; i++) {
                double sq = 0;
                for (int j = ch - 1; j <= ch + 2; j++)
                    if (j >= 0 && j < c) sq += pow(X[(b * c + j) * s + i], 2);
                ref[(b * c + ch) * s + i] = (float)(X[(b * c + ch) * s + i] / pow(2.0 + 0.1 / size * sq, 0.6));
            }
    T_ASSERT_CLOSE(outs[0].data, ref, 30, 1e-5, 1e-6);
    kn_node_remove_attr(g, node, "size");
    cr_assert_eq(t_run_node(g, node, in, outs, state, false), KN_ERR_INVALID);
    cr_assert(strstr(kn_last_error(), "node 'n0' (LRN)") && strstr(kn_last_error(), "size"), "%s", kn_last_error());
    kn_tensor_release(&outs[0]);
    kn_tensor_release(&x);
    kn_graph_free(g);
}
