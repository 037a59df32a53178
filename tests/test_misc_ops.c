/* The misc ops (MatMul, Dropout, Pad, Clip, Where, Sum/Mean/Max/Min,
 * comparisons, logic, Mod): forward against plain references and numpy
 * results, gradients by finite differences, static inference with unknown
 * dims, and errors that name the node. */
#include "helpers.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A one-node graph at an opset; ins[i] == NULL makes input i omitted. */
static int node_graph(kn_graph **g, const char *op, int opset, int n_in, kn_tensor *const *ins, int n_out)
{
    int in[8], out[8], node;
    T_OK(kn_graph_create(g));
    (*g)->opset = opset;
    for (int i = 0; i < n_in; i++) {
        char name[16];
        snprintf(name, sizeof name, "in%d", i);
        in[i] = KN_NO_VALUE;
        if (ins[i]) T_OK(kn_graph_add_input(*g, name, ins[i]->dtype, ins[i]->ndim, ins[i]->shape, &in[i]));
    }
    for (int i = 0; i < n_out; i++) {
        char name[16];
        snprintf(name, sizeof name, "out%d", i);
        T_OK(kn_graph_add_value(*g, name, KN_UNDEFINED, -1, NULL, &out[i]));
    }
    T_OK(kn_graph_add_node(*g, op, "", "n0", n_in, in, n_out, out, &node));
    for (int i = 0; i < n_out; i++) T_OK(kn_graph_add_output(*g, out[i]));
    return node;
}

/* A tensor of any dtype from host values. */
static kn_tensor mk(kn_dtype dt, int ndim, const int64_t *shape, const void *vals)
{
    kn_tensor t;
    T_OK(kn_tensor_init(&t, dt, ndim, shape));
    if (vals) memcpy(t.data, vals, kn_tensor_bytes(&t));
    return t;
}

/* Run a node once in inference mode; outs released by the caller. */
static kn_status run1(const char *op, int opset, int n_in, kn_tensor *const *ins, int n_out, kn_tensor *outs,
                      kn_graph **keep)
{
    kn_graph *g;
    int node = node_graph(&g, op, opset, n_in, ins, n_out);
    kn_tensor state[KN_OP_MAX_STATE] = {0};
    memset(outs, 0, sizeof(kn_tensor) * (size_t)n_out);
    kn_status st = t_run_node(g, node, ins, outs, state, false);
    for (int i = 0; i < KN_OP_MAX_STATE; i++) kn_tensor_release(&state[i]);
    if (keep) *keep = g;
    else kn_graph_free(g);
    return st;
}

static void release_all(kn_tensor *t, int n)
{
    for (int i = 0; i < n; i++) kn_tensor_release(&t[i]);
}

/* ---- MatMul ---- */

/* Naive numpy matmul for float tensors with batch broadcasting and 1-D promotion. */
static void ref_matmul(const kn_tensor *a, const kn_tensor *b, const kn_tensor *y)
{
    int64_t m = a->ndim == 1 ? 1 : a->shape[a->ndim - 2], k = a->shape[a->ndim - 1];
    int64_t n = b->ndim == 1 ? 1 : b->shape[b->ndim - 1];
    int na = a->ndim > 2 ? a->ndim - 2 : 0, nb = b->ndim > 2 ? b->ndim - 2 : 0;
    kn_bcast bc;
    T_OK(kn_bcast_init(&bc, na, a->shape, nb, b->shape));
    int64_t batch = 1;
    for (int d = 0; d < bc.ndim; d++) batch *= bc.shape[d];
    const float *A = a->data, *B = b->data;
    float *Y = y->data;
    for (int64_t t = 0; t < batch; t++) {
        int64_t r = t, oa = 0, ob = 0;
        for (int d = bc.ndim - 1; d >= 0; d--) {
            oa += (r % bc.shape[d]) * bc.astride[d];
            ob += (r % bc.shape[d]) * bc.bstride[d];
            r /= bc.shape[d];
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t p = 0; p < k; p++) s += (double)A[oa * m * k + i * k + p] * B[ob * k * n + p * n + j];
                Y[t * m * n + i * n + j] = (float)s;
            }
    }
}

static void check_matmul(int na, const int64_t *sa, int nb, const int64_t *sb, int ny, const int64_t *sy)
{
    kn_tensor a = mk(KN_FLOAT, na, sa, NULL), b = mk(KN_FLOAT, nb, sb, NULL), *ins[2] = {&a, &b}, y, want;
    t_fill_uniform(&a, 1, -1, 1);
    t_fill_uniform(&b, 2, -1, 1);
    T_OK(run1("MatMul", 13, 2, ins, 1, &y, NULL));
    cr_assert(kn_shape_equal(y.ndim, y.shape, ny, sy), "output rank %d", y.ndim);
    want = mk(KN_FLOAT, ny, sy, NULL);
    ref_matmul(&a, &b, &want);
    T_ASSERT_CLOSE(y.data, want.data, kn_tensor_numel(&y), 1e-5, 1e-5);
    kn_tensor_release(&a); kn_tensor_release(&b); kn_tensor_release(&y); kn_tensor_release(&want);
}

Test(matmul, numpy_shapes_against_reference)
{
    check_matmul(4, (int64_t[]){2, 1, 3, 4}, 3, (int64_t[]){3, 4, 5}, 4, (int64_t[]){2, 3, 3, 5}); /* broadcast batch */
    check_matmul(3, (int64_t[]){2, 3, 4}, 2, (int64_t[]){4, 5}, 3, (int64_t[]){2, 3, 5});         /* folded into M */
    check_matmul(2, (int64_t[]){3, 4}, 3, (int64_t[]){2, 4, 5}, 3, (int64_t[]){2, 3, 5});         /* A unbatched */
    check_matmul(1, (int64_t[]){4}, 3, (int64_t[]){2, 4, 3}, 2, (int64_t[]){2, 3});               /* 1-D A */
    check_matmul(3, (int64_t[]){2, 3, 4}, 1, (int64_t[]){4}, 2, (int64_t[]){2, 3});               /* 1-D B */
    check_matmul(1, (int64_t[]){4}, 1, (int64_t[]){4}, 0, NULL);                                   /* dot */
    check_matmul(2, (int64_t[]){3, 0}, 2, (int64_t[]){0, 2}, 2, (int64_t[]){3, 2});               /* K = 0 */
}

Test(matmul, gradients_with_broadcast_batch)
{
    const int64_t cases[][2][4] = {{{2, 1, 2, 3}, {3, 3, 2}}, {{2, 2, 3}, {3, 2}}, {{2, 3}, {2, 3, 2}}, {{3}, {2, 3, 2}}};
    const int ranks[][2] = {{4, 3}, {3, 2}, {2, 3}, {1, 3}};
    for (int c = 0; c < 4; c++) {
        kn_tensor a = mk(KN_FLOAT, ranks[c][0], cases[c][0], NULL), b = mk(KN_FLOAT, ranks[c][1], cases[c][1], NULL);
        kn_tensor *ins[2] = {&a, &b};
        t_fill_uniform(&a, 3 + c, -1, 1);
        t_fill_uniform(&b, 4 + c, -1, 1);
        kn_graph *g;
        int node = node_graph(&g, "MatMul", 13, 2, ins, 1);
        t_gradcheck(g, node, ins, 3, false, 1e-2f, 1e-2, 1e-3);
        kn_graph_free(g);
        kn_tensor_release(&a); kn_tensor_release(&b);
    }
}

Test(matmul, inference_unknown_dims_and_errors)
{
    kn_tensor a, b, o, *in[2] = {&a, &b}, *out[1] = {&o};
    kn_graph *g;
    kn_tensor_meta(&a, KN_FLOAT, 3, (int64_t[]){-1, 3, 4});
    kn_tensor_meta(&b, KN_FLOAT, 2, (int64_t[]){4, -1});
    int node = node_graph(&g, "MatMul", 13, 2, in, 1);
    T_OK(kn_node_infer(g, &g->nodes[node], in, out));
    cr_assert(kn_shape_equal(o.ndim, o.shape, 3, (int64_t[]){-1, 3, -1}));
    kn_tensor_meta(&b, KN_FLOAT, 2, (int64_t[]){5, 2});
    cr_assert_eq(kn_node_infer(g, &g->nodes[node], in, out), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "n0") && strstr(kn_last_error(), "[?,3,4]") && strstr(kn_last_error(), "[5,2]"),
              "%s", kn_last_error());
    kn_tensor_meta(&b, KN_FLOAT, 3, (int64_t[]){3, 4, 2});
    kn_tensor_meta(&a, KN_FLOAT, 3, (int64_t[]){2, 3, 4});
    cr_assert_eq(kn_node_infer(g, &g->nodes[node], in, out), KN_ERR_SHAPE, "batch 2 vs 3 does not broadcast");
    kn_tensor_meta(&a, KN_INT64, 2, (int64_t[]){3, 4});
    cr_assert_eq(kn_node_infer(g, &g->nodes[node], in, out), KN_ERR_UNSUPPORTED);
    cr_assert(strstr(kn_last_error(), "n0") && strstr(kn_last_error(), "int64"), "%s", kn_last_error());
    kn_graph_free(g);
}

/* ---- Pad ---- */

static void check_pad(const char *mode, int opset, const int64_t *pads, int npads, const int *want, int64_t r0,
                      int64_t r1)
{
    float xv[6] = {1, 2, 3, 4, 5, 6};
    kn_tensor x = mk(KN_FLOAT, 2, (int64_t[]){2, 3}, xv), p = mk(KN_INT64, 1, (int64_t[]){npads}, pads);
    float nine = 9;
    kn_tensor cv = mk(KN_FLOAT, 0, NULL, &nine), y;
    kn_tensor *ins[3] = {&x, &p, &cv};
    kn_graph *g;
    int node = node_graph(&g, "Pad", opset, opset >= 11 ? 3 : 1, ins, 1);
    T_OK(kn_node_set_string(g, node, "mode", mode));
    if (opset < 11) {
        T_OK(kn_node_set_ints(g, node, "pads", npads, pads));
        T_OK(kn_node_set_float(g, node, "value", 9));
    }
    kn_tensor st[KN_OP_MAX_STATE] = {0};
    memset(&y, 0, sizeof y);
    T_OK(t_run_node(g, node, ins, &y, st, false));
    cr_assert(kn_shape_equal(y.ndim, y.shape, 2, (int64_t[]){r0, r1}), "%s: shape [%lld,%lld]", mode,
              (long long)y.shape[0], (long long)y.shape[1]);
    for (int64_t i = 0; i < r0 * r1; i++)
        cr_assert_float_eq(((float *)y.data)[i], (float)want[i], 0, "%s opset %d [%lld]", mode, opset, (long long)i);
    kn_graph_free(g);
    kn_tensor_release(&x); kn_tensor_release(&p); kn_tensor_release(&cv); kn_tensor_release(&y);
}

Test(pad, modes_match_numpy)
{
    const int64_t pads[4] = {1, 2, 1, 2}; /* numpy ((1,1),(2,2)) */
    static const int constant[] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 1, 2, 3, 9, 9, 9, 9, 4, 5, 6, 9, 9, 9, 9, 9, 9, 9, 9, 9};
    static const int reflect[] = {6, 5, 4, 5, 6, 5, 4, 3, 2, 1, 2, 3, 2, 1, 6, 5, 4, 5, 6, 5, 4, 3, 2, 1, 2, 3, 2, 1};
    static const int edge[] = {1, 1, 1, 2, 3, 3, 3, 1, 1, 1, 2, 3, 3, 3, 4, 4, 4, 5, 6, 6, 6, 4, 4, 4, 5, 6, 6, 6};
    static const int wrap[] = {5, 6, 4, 5, 6, 4, 5, 2, 3, 1, 2, 3, 1, 2, 5, 6, 4, 5, 6, 4, 5, 2, 3, 1, 2, 3, 1, 2};
    check_pad("constant", 13, pads, 4, constant, 4, 7);
    check_pad("constant", 2, pads, 4, constant, 4, 7); /* attribute form */
    check_pad("reflect", 13, pads, 4, reflect, 4, 7);
    check_pad("edge", 13, pads, 4, edge, 4, 7);
    check_pad("wrap", 19, pads, 4, wrap, 4, 7);
    /* negative pads crop first: column 0 cropped, then edge pads of 1 after */
    static const int crop_edge[] = {2, 3, 3, 5, 6, 6, 5, 6, 6};
    check_pad("edge", 13, (int64_t[]){0, -1, 1, 1}, 4, crop_edge, 3, 3);
}

Test(pad, int_dtypes_axes_and_errors)
{
    int32_t xv[3] = {1, 2, 3};
    int64_t pv[2] = {5, 4}, av[1] = {-1};
    kn_tensor x = mk(KN_INT32, 1, (int64_t[]){3}, xv), p = mk(KN_INT64, 1, (int64_t[]){2}, pv);
    kn_tensor ax = mk(KN_INT64, 1, (int64_t[]){1}, av), y;
    kn_tensor *ins[4] = {&x, &p, NULL, &ax};
    T_OK(run1("Pad", 18, 4, ins, 1, &y, NULL));
    cr_assert_eq(y.shape[0], 12);
    for (int i = 0; i < 12; i++) cr_assert_eq(((int32_t *)y.data)[i], (i >= 5 && i < 8) ? xv[i - 5] : 0);
    kn_tensor_release(&y);
    /* reflect pads wider than the input repeat the reflection, as numpy does */
    kn_graph *g;
    int node = node_graph(&g, "Pad", 13, 2, ins, 1);
    T_OK(kn_node_set_string(g, node, "mode", "reflect"));
    kn_tensor st[KN_OP_MAX_STATE] = {0};
    memset(&y, 0, sizeof y);
    T_OK(t_run_node(g, node, ins, &y, st, false));
    static const int32_t big[] = {2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3};
    cr_assert(memcmp(y.data, big, sizeof big) == 0);
    kn_tensor_release(&y);
    /* wrong pad count names the node and the input shape */
    int64_t bad[3] = {1, 1, 1};
    kn_tensor pb = mk(KN_INT64, 1, (int64_t[]){3}, bad), *ins2[2] = {&x, &pb};
    cr_assert_eq(run1("Pad", 13, 2, ins2, 1, &y, NULL), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "n0") && strstr(kn_last_error(), "[3]"), "%s", kn_last_error());
    /* over-cropping */
    int64_t crop[2] = {-2, -2};
    kn_tensor pc = mk(KN_INT64, 1, (int64_t[]){2}, crop), *ins3[2] = {&x, &pc};
    cr_assert_eq(run1("Pad", 13, 2, ins3, 1, &y, NULL), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "n0"), "%s", kn_last_error());
    kn_graph_free(g);
    kn_tensor_release(&x); kn_tensor_release(&p); kn_tensor_release(&ax); kn_tensor_release(&pb); kn_tensor_release(&pc);
}

Test(pad, gradients)
{
    const char *modes[] = {"constant", "reflect", "edge"};
    for (int m = 0; m < 3; m++) {
        int64_t pv[6] = {1, -1, 2, 0, 1, 3};
        kn_tensor x = t_new_rand(5, -1, 1, 3, 2, 3, 4), p = mk(KN_INT64, 1, (int64_t[]){6}, pv);
        kn_tensor *ins[2] = {&x, &p};
        kn_graph *g;
        int node = node_graph(&g, "Pad", 13, 2, ins, 1);
        T_OK(kn_node_set_string(g, node, "mode", modes[m]));
        t_gradcheck(g, node, ins, 1, false, 1e-2f, 1e-2, 1e-3);
        kn_graph_free(g);
        kn_tensor_release(&x); kn_tensor_release(&p);
    }
}

Test(pad, unknown_dims_propagate)
{
    int64_t pv[4] = {1, 0, 1, 2};
    kn_tensor x, p = mk(KN_INT64, 1, (int64_t[]){4}, pv), o, *in[2] = {&x, &p}, *out[1] = {&o};
    kn_tensor_meta(&x, KN_FLOAT, 2, (int64_t[]){-1, 5});
    kn_graph *g;
    int node = node_graph(&g, "Pad", 13, 2, in, 1);
    T_OK(kn_node_infer(g, &g->nodes[node], in, out));
    cr_assert(kn_shape_equal(o.ndim, o.shape, 2, (int64_t[]){-1, 7}));
    kn_graph_free(g);
    kn_tensor_release(&p);
}

/* ---- Clip ---- */

Test(clip, omitted_bounds_and_opsets)
{
    float xv[5] = {-3, -1, 0, 2, 7}, lo = -1.5f, hi = 2.5f;
    kn_tensor x = mk(KN_FLOAT, 1, (int64_t[]){5}, xv), tlo = mk(KN_FLOAT, 0, NULL, &lo), thi = mk(KN_FLOAT, 0, NULL, &hi), y;
    kn_tensor *only_max[3] = {&x, NULL, &thi}, *only_min[2] = {&x, &tlo}, *both[3] = {&x, &tlo, &thi}, *none[1] = {&x};
    T_OK(run1("Clip", 13, 3, only_max, 1, &y, NULL));
    T_ASSERT_CLOSE(y.data, ((float[]){-3, -1, 0, 2, 2.5f}), 5, 0, 0);
    kn_tensor_release(&y);
    T_OK(run1("Clip", 13, 2, only_min, 1, &y, NULL));
    T_ASSERT_CLOSE(y.data, ((float[]){-1.5f, -1, 0, 2, 7}), 5, 0, 0);
    kn_tensor_release(&y);
    T_OK(run1("Clip", 13, 3, both, 1, &y, NULL));
    T_ASSERT_CLOSE(y.data, ((float[]){-1.5f, -1, 0, 2, 2.5f}), 5, 0, 0);
    kn_tensor_release(&y);
    T_OK(run1("Clip", 13, 1, none, 1, &y, NULL));
    T_ASSERT_CLOSE(y.data, xv, 5, 0, 0);
    kn_tensor_release(&y);
    /* min > max: everything becomes max */
    kn_tensor *swapped[3] = {&x, &thi, &tlo};
    T_OK(run1("Clip", 13, 3, swapped, 1, &y, NULL));
    T_ASSERT_CLOSE(y.data, ((float[]){-1.5f, -1.5f, -1.5f, -1.5f, -1.5f}), 5, 0, 0);
    kn_tensor_release(&y);
    /* opset 6: attributes */
    kn_graph *g;
    int node = node_graph(&g, "Clip", 6, 1, none, 1);
    T_OK(kn_node_set_float(g, node, "min", 0.0f));
    T_OK(kn_node_set_float(g, node, "max", 6.0f));
    kn_tensor st[KN_OP_MAX_STATE] = {0};
    memset(&y, 0, sizeof y);
    T_OK(t_run_node(g, node, none, &y, st, false));
    T_ASSERT_CLOSE(y.data, ((float[]){0, 0, 0, 2, 6}), 5, 0, 0);
    kn_tensor_release(&y);
    kn_graph_free(g);
    kn_tensor_release(&x); kn_tensor_release(&tlo); kn_tensor_release(&thi);
}

Test(clip, integer_types_and_errors)
{
    int8_t xv[5] = {-100, -3, 0, 4, 120}, lo = -5, hi = 50;
    kn_tensor x = mk(KN_INT8, 1, (int64_t[]){5}, xv), tlo = mk(KN_INT8, 0, NULL, &lo), thi = mk(KN_INT8, 0, NULL, &hi), y;
    kn_tensor *both[3] = {&x, &tlo, &thi}, *only_max[3] = {&x, NULL, &thi};
    T_OK(run1("Clip", 13, 3, both, 1, &y, NULL));
    cr_assert(memcmp(y.data, (int8_t[]){-5, -3, 0, 4, 50}, 5) == 0);
    kn_tensor_release(&y);
    T_OK(run1("Clip", 13, 3, only_max, 1, &y, NULL));
    cr_assert(memcmp(y.data, (int8_t[]){-100, -3, 0, 4, 50}, 5) == 0);
    kn_tensor_release(&y);
    float f = 1.0f;
    kn_tensor tf = mk(KN_FLOAT, 0, NULL, &f), *mixed[2] = {&x, &tf};
    cr_assert_eq(run1("Clip", 13, 2, mixed, 1, &y, NULL), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "n0") && strstr(kn_last_error(), "min"), "%s", kn_last_error());
    kn_tensor_release(&x); kn_tensor_release(&tlo); kn_tensor_release(&thi); kn_tensor_release(&tf);
}

Test(clip, gradient)
{
    float lo = -0.5f, hi = 0.4f;
    kn_tensor x = t_new_rand(8, -1, 1, 2, 3, 5), tlo = mk(KN_FLOAT, 0, NULL, &lo), thi = mk(KN_FLOAT, 0, NULL, &hi);
    float *d = x.data; /* keep samples away from the kinks */
    for (int i = 0; i < 15; i++)
        if (fabsf(d[i] - lo) < 0.02f || fabsf(d[i] - hi) < 0.02f) d[i] += 0.05f;
    kn_tensor *ins[3] = {&x, &tlo, &thi};
    kn_graph *g;
    int node = node_graph(&g, "Clip", 13, 3, ins, 1);
    t_gradcheck(g, node, ins, 1, false, 1e-3f, 1e-2, 1e-3);
    kn_graph_free(g);
    kn_tensor_release(&x); kn_tensor_release(&tlo); kn_tensor_release(&thi);
}

/* ---- Where ---- */

Test(where, broadcast_any_dtype_and_gradient)
{
    uint8_t cv[3] = {1, 0, 1};
    int64_t xv[2] = {10, 20}, yv[3] = {-1, -2, -3};
    kn_tensor c = mk(KN_BOOL, 1, (int64_t[]){3}, cv), x = mk(KN_INT64, 2, (int64_t[]){2, 1}, xv);
    kn_tensor y = mk(KN_INT64, 1, (int64_t[]){3}, yv), o, *ins[3] = {&c, &x, &y};
    T_OK(run1("Where", 16, 3, ins, 1, &o, NULL));
    cr_assert(kn_shape_equal(o.ndim, o.shape, 2, (int64_t[]){2, 3}));
    cr_assert(memcmp(o.data, (int64_t[]){10, -2, 10, 20, -2, 20}, 6 * sizeof(int64_t)) == 0);
    kn_tensor_release(&o);
    kn_tensor_release(&x); kn_tensor_release(&y);
    /* float gradient with both branches broadcast */
    kn_tensor fx = t_new_rand(9, -1, 1, 2, 2, 1), fy = t_new_rand(10, -1, 1, 1, 3), *fins[3] = {&c, &fx, &fy};
    kn_graph *g;
    int node = node_graph(&g, "Where", 16, 3, fins, 1);
    t_gradcheck(g, node, fins, 6, false, 1e-2f, 1e-3, 1e-4);
    /* bad condition dtype */
    kn_tensor *bad[3] = {&fx, &fx, &fy};
    cr_assert_eq(run1("Where", 16, 3, bad, 1, &o, NULL), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "n0") && strstr(kn_last_error(), "bool"), "%s", kn_last_error());
    kn_graph_free(g);
    kn_tensor_release(&c); kn_tensor_release(&fx); kn_tensor_release(&fy);
}

/* ---- Sum / Mean / Max / Min ---- */

Test(variadic, broadcast_three_inputs)
{
    kn_tensor a = t_new_rand(11, -1, 1, 1, 3), b = t_new_rand(12, -1, 1, 2, 2, 1), c = t_new_rand(13, -1, 1, 1, 1), y;
    kn_tensor *ins[3] = {&a, &b, &c};
    const char *ops[4] = {"Sum", "Mean", "Max", "Min"};
    for (int k = 0; k < 4; k++) {
        T_OK(run1(ops[k], 13, 3, ins, 1, &y, NULL));
        cr_assert(kn_shape_equal(y.ndim, y.shape, 2, (int64_t[]){2, 3}), "%s shape", ops[k]);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++) {
                float va = ((float *)a.data)[j], vb = ((float *)b.data)[i], vc = ((float *)c.data)[0], w;
                if (k == 0) w = va + vb + vc;
                else if (k == 1) w = (va + vb + vc) / 3.0f;
                else if (k == 2) w = fmaxf(va, fmaxf(vb, vc));
                else w = fminf(va, fminf(vb, vc));
                cr_assert_float_eq(((float *)y.data)[i * 3 + j], w, 1e-6, "%s [%d,%d]", ops[k], i, j);
            }
        kn_tensor_release(&y);
    }
    /* one input: a copy */
    T_OK(run1("Sum", 13, 1, ins, 1, &y, NULL));
    T_ASSERT_CLOSE(y.data, a.data, 3, 0, 0);
    kn_tensor_release(&y);
    kn_tensor_release(&a); kn_tensor_release(&b); kn_tensor_release(&c);
}

Test(variadic, integer_max_min_and_errors)
{
    uint8_t av[3] = {3, 2, 1}, bv[3] = {1, 4, 4};
    kn_tensor a = mk(KN_UINT8, 1, (int64_t[]){3}, av), b = mk(KN_UINT8, 1, (int64_t[]){3}, bv), y, *ins[2] = {&a, &b};
    T_OK(run1("Max", 13, 2, ins, 1, &y, NULL));
    cr_assert(memcmp(y.data, (uint8_t[]){3, 4, 4}, 3) == 0);
    kn_tensor_release(&y);
    T_OK(run1("Min", 13, 2, ins, 1, &y, NULL));
    cr_assert(memcmp(y.data, (uint8_t[]){1, 2, 1}, 3) == 0);
    kn_tensor_release(&y);
    cr_assert_eq(run1("Mean", 13, 2, ins, 1, &y, NULL), KN_ERR_UNSUPPORTED);
    kn_tensor f = t_new(1, 4), *bad[2] = {&a, &f};
    cr_assert_eq(run1("Sum", 13, 2, bad, 1, &y, NULL), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "n0"), "%s", kn_last_error());
    kn_tensor_release(&a); kn_tensor_release(&b); kn_tensor_release(&f);
}

Test(variadic, gradients)
{
    const char *ops[4] = {"Sum", "Mean", "Max", "Min"};
    for (int k = 0; k < 4; k++) {
        kn_tensor a = t_new_rand(20 + k, -1, 1, 2, 2, 3), b = t_new_rand(30 + k, -1, 1, 2, 1, 3), c = t_new_rand(40, -1, 1, 2, 2, 1);
        kn_tensor *ins[3] = {&a, &b, &c};
        int n = k < 2 ? 3 : 2;
        kn_graph *g;
        int node = node_graph(&g, ops[k], 13, n, ins, 1);
        t_gradcheck(g, node, ins, n == 3 ? 7 : 3, false, 1e-3f, 1e-2, 1e-3);
        kn_graph_free(g);
        kn_tensor_release(&a); kn_tensor_release(&b); kn_tensor_release(&c);
    }
}

Test(variadic, unknown_dims_propagate)
{
    kn_tensor a, b, o, *in[2] = {&a, &b}, *out[1] = {&o};
    kn_tensor_meta(&a, KN_FLOAT, 2, (int64_t[]){-1, 1});
    kn_tensor_meta(&b, KN_FLOAT, 1, (int64_t[]){4});
    kn_graph *g;
    int node = node_graph(&g, "Sum", 13, 2, in, 1);
    T_OK(kn_node_infer(g, &g->nodes[node], in, out));
    cr_assert(kn_shape_equal(o.ndim, o.shape, 2, (int64_t[]){-1, 4}));
    kn_tensor_meta(&b, KN_FLOAT, 2, (int64_t[]){2, 3});
    kn_tensor_meta(&a, KN_FLOAT, 2, (int64_t[]){2, 4});
    cr_assert_eq(kn_node_infer(g, &g->nodes[node], in, out), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "n0") && strstr(kn_last_error(), "[2,4]") && strstr(kn_last_error(), "[2,3]"),
              "%s", kn_last_error());
    kn_graph_free(g);
}

/* ---- comparisons, logic, Mod ---- */

Test(compare, comparisons_broadcast_to_bool)
{
    int32_t av[6] = {1, 5, 3, 4, 2, 6}, bv[3] = {3, 3, 3};
    kn_tensor a = mk(KN_INT32, 2, (int64_t[]){2, 3}, av), b = mk(KN_INT32, 1, (int64_t[]){3}, bv), y, *ins[2] = {&a, &b};
    struct { const char *op; uint8_t want[6]; } cases[] = {
        {"Equal", {0, 0, 1, 0, 0, 0}},        {"Less", {1, 0, 0, 0, 1, 0}},
        {"Greater", {0, 1, 0, 1, 0, 1}},      {"LessOrEqual", {1, 0, 1, 0, 1, 0}},
        {"GreaterOrEqual", {0, 1, 1, 1, 0, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        T_OK(run1(cases[i].op, 13, 2, ins, 1, &y, NULL));
        cr_assert_eq(y.dtype, KN_BOOL);
        cr_assert(memcmp(y.data, cases[i].want, 6) == 0, "%s", cases[i].op);
        kn_tensor_release(&y);
    }
    kn_tensor f = t_new(1, 3), *mixed[2] = {&a, &f};
    cr_assert_eq(run1("Less", 13, 2, mixed, 1, &y, NULL), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "n0"), "%s", kn_last_error());
    cr_assert_eq(run1("LessOrEqual", 11, 2, ins, 1, &y, NULL), KN_ERR_INVALID, "LessOrEqual is opset 12");
    kn_tensor_release(&a); kn_tensor_release(&b); kn_tensor_release(&f);
}

Test(compare, logic_ops)
{
    uint8_t av[4] = {0, 0, 1, 1}, bv[4] = {0, 1, 0, 1};
    kn_tensor a = mk(KN_BOOL, 1, (int64_t[]){4}, av), b = mk(KN_BOOL, 1, (int64_t[]){4}, bv), y, *ins[2] = {&a, &b};
    T_OK(run1("And", 7, 2, ins, 1, &y, NULL));
    cr_assert(memcmp(y.data, (uint8_t[]){0, 0, 0, 1}, 4) == 0);
    kn_tensor_release(&y);
    T_OK(run1("Or", 7, 2, ins, 1, &y, NULL));
    cr_assert(memcmp(y.data, (uint8_t[]){0, 1, 1, 1}, 4) == 0);
    kn_tensor_release(&y);
    T_OK(run1("Xor", 7, 2, ins, 1, &y, NULL));
    cr_assert(memcmp(y.data, (uint8_t[]){0, 1, 1, 0}, 4) == 0);
    kn_tensor_release(&y);
    T_OK(run1("Not", 1, 1, ins, 1, &y, NULL));
    cr_assert(memcmp(y.data, (uint8_t[]){1, 1, 0, 0}, 4) == 0);
    kn_tensor_release(&y);
    kn_tensor f = t_new(1, 4), *bad[2] = {&f, &f};
    cr_assert_eq(run1("And", 7, 2, bad, 1, &y, NULL), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "n0") && strstr(kn_last_error(), "bool"), "%s", kn_last_error());
    kn_tensor_release(&a); kn_tensor_release(&b); kn_tensor_release(&f);
}

Test(compare, mod_sign_rules)
{
    int64_t xv[6] = {-4, 7, 5, 4, -7, 8}, dv[6] = {2, -3, 8, -2, 3, 5};
    kn_tensor x = mk(KN_INT64, 1, (int64_t[]){6}, xv), d = mk(KN_INT64, 1, (int64_t[]){6}, dv), y, *ins[2] = {&x, &d};
    kn_graph *g;
    T_OK(run1("Mod", 13, 2, ins, 1, &y, NULL)); /* fmod = 0: sign of the divisor (onnx test_mod_mixed_sign_int64) */
    cr_assert(memcmp(y.data, (int64_t[]){0, -2, 5, 0, 2, 3}, sizeof xv) == 0);
    kn_tensor_release(&y);
    int node = node_graph(&g, "Mod", 13, 2, ins, 1);
    T_OK(kn_node_set_int(g, node, "fmod", 1)); /* C remainder: sign of the dividend (test_mod_int64_fmod) */
    kn_tensor st[KN_OP_MAX_STATE] = {0};
    memset(&y, 0, sizeof y);
    T_OK(t_run_node(g, node, ins, &y, st, false));
    cr_assert(memcmp(y.data, (int64_t[]){0, 1, 5, 0, -1, 3}, sizeof xv) == 0);
    kn_tensor_release(&y);
    kn_graph_free(g);
    /* float: fmod = 1 required */
    float fx[3] = {-4.3f, 7.2f, 5.0f}, fd[3] = {2.1f, -3.4f, 8.0f};
    kn_tensor a = mk(KN_FLOAT, 1, (int64_t[]){3}, fx), b = mk(KN_FLOAT, 1, (int64_t[]){3}, fd), *fins[2] = {&a, &b};
    cr_assert_eq(run1("Mod", 13, 2, fins, 1, &y, NULL), KN_ERR_INVALID);
    cr_assert(strstr(kn_last_error(), "n0") && strstr(kn_last_error(), "fmod"), "%s", kn_last_error());
    node = node_graph(&g, "Mod", 13, 2, fins, 1);
    T_OK(kn_node_set_int(g, node, "fmod", 1));
    memset(&y, 0, sizeof y);
    T_OK(t_run_node(g, node, fins, &y, st, false));
    T_ASSERT_CLOSE(y.data, ((float[]){fmodf(-4.3f, 2.1f), fmodf(7.2f, -3.4f), 5.0f}), 3, 1e-6, 1e-6);
    kn_tensor_release(&y);
    kn_graph_free(g);
    kn_tensor_release(&x); kn_tensor_release(&d); kn_tensor_release(&a); kn_tensor_release(&b);
}

/* ---- Dropout ---- */

Test(dropout, inference_is_identity_with_true_mask)
{
    kn_tensor x = t_new_rand(50, -1, 1, 2, 3, 4), outs[2];
    kn_tensor *ins[1] = {&x};
    T_OK(run1("Dropout", 13, 1, ins, 2, outs, NULL));
    T_ASSERT_CLOSE(outs[0].data, x.data, 12, 0, 0);
    cr_assert_eq(outs[1].dtype, KN_BOOL);
    for (int i = 0; i < 12; i++) cr_assert_eq(((uint8_t *)outs[1].data)[i], 1);
    release_all(outs, 2);
    /* opset 7: the mask has the data type */
    T_OK(run1("Dropout", 7, 1, ins, 2, outs, NULL));
    cr_assert_eq(outs[1].dtype, KN_FLOAT);
    for (int i = 0; i < 12; i++) cr_assert_float_eq(((float *)outs[1].data)[i], 1.0f, 0);
    release_all(outs, 2);
    kn_tensor_release(&x);
}

static double kept_fraction(const kn_tensor *x, const kn_tensor *y, const kn_tensor *mask, float ratio)
{
    const float *X = x->data, *Y = y->data;
    int64_t n = kn_tensor_numel(x), kept = 0;
    for (int64_t i = 0; i < n; i++) {
        bool k = ((const uint8_t *)mask->data)[i] != 0;
        kept += k;
        cr_assert_float_eq(Y[i], k ? X[i] / (1.0f - ratio) : 0.0f, 1e-6, "element %lld", (long long)i);
    }
    return (double)kept / (double)n;
}

Test(dropout, training_statistics_and_opset12_inputs)
{
    kn_tensor x = t_new_rand(51, 0.5f, 1.5f, 2, 100, 100), outs[2] = {0}, st[KN_OP_MAX_STATE] = {0};
    kn_tensor *ins[1] = {&x};
    kn_graph *g;
    int node = node_graph(&g, "Dropout", 10, 1, ins, 2);
    T_OK(kn_node_set_float(g, node, "ratio", 0.3f));
    T_OK(t_run_node(g, node, ins, outs, st, true));
    double f = kept_fraction(&x, &outs[0], &outs[1], 0.3f);
    cr_assert(fabs(f - 0.7) < 0.02, "kept %g of 10000 for ratio 0.3", f);
    cr_assert_not_null(st[0].data, "the mask is kept for backward");
    release_all(outs, 2);
    release_all(st, KN_OP_MAX_STATE);
    kn_graph_free(g);
    /* opset 13, inference context but training_mode = true: ratio from the input */
    float r = 0.75f;
    uint8_t on = 1;
    kn_tensor tr = mk(KN_FLOAT, 0, NULL, &r), tm = mk(KN_BOOL, 0, NULL, &on), *ins3[3] = {&x, &tr, &tm};
    T_OK(run1("Dropout", 13, 3, ins3, 2, outs, NULL));
    f = kept_fraction(&x, &outs[0], &outs[1], 0.75f);
    cr_assert(fabs(f - 0.25) < 0.02, "kept %g for ratio 0.75", f);
    release_all(outs, 2);
    /* ratio 1 is refused, naming the node */
    r = 1.0f;
    kn_tensor_release(&tr);
    tr = mk(KN_FLOAT, 0, NULL, &r);
    ins3[1] = &tr;
    cr_assert_eq(run1("Dropout", 13, 3, ins3, 2, outs, NULL), KN_ERR_INVALID);
    cr_assert(strstr(kn_last_error(), "n0") && strstr(kn_last_error(), "ratio"), "%s", kn_last_error());
    release_all(outs, 2); /* allocated before forward refused */
    kn_tensor_release(&x); kn_tensor_release(&tr); kn_tensor_release(&tm);
}

/* A training-mode Dropout through sessions: a fixed seed repeats, another seed differs,
 * and the input (which the session may alias the output to) is left intact. */
static void session_dropout(uint64_t seed, kn_tensor *x, float *out)
{
    float r = 0.5f;
    uint8_t on = 1;
    kn_tensor tr = mk(KN_FLOAT, 0, NULL, &r), tm = mk(KN_BOOL, 0, NULL, &on), *ins[3] = {x, &tr, &tm};
    kn_graph *g;
    node_graph(&g, "Dropout", 13, 3, ins, 1);
    kn_session_opts o = kn_session_defaults();
    o.seed = seed;
    kn_session *s;
    T_OK(kn_session_create(&s, g, &o));
    const kn_tensor *feed[3] = {x, &tr, &tm};
    T_OK(kn_session_run(s, feed, 3));
    const kn_tensor *y = kn_session_output(s, 0);
    cr_assert(y && y->data != x->data);
    memcpy(out, y->data, kn_tensor_bytes(y));
    kn_session_free(s);
    kn_graph_free(g);
    kn_tensor_release(&tr); kn_tensor_release(&tm);
}

Test(dropout, deterministic_for_a_seed)
{
    kn_tensor x = t_new_rand(52, 0.5f, 1.5f, 1, 256), copy;
    T_OK(kn_tensor_clone(&copy, &x));
    float a[256], b[256], c[256];
    session_dropout(42, &x, a);
    session_dropout(42, &x, b);
    session_dropout(43, &x, c);
    cr_assert(memcmp(a, b, sizeof a) == 0, "same seed, same mask");
    cr_assert(memcmp(a, c, sizeof a) != 0, "another seed, another mask");
    cr_assert(memcmp(x.data, copy.data, sizeof a) == 0, "the input is not overwritten");
    kn_tensor_release(&x); kn_tensor_release(&copy);
}

Test(dropout, gradients)
{
    kn_tensor x = t_new_rand(53, -1, 1, 2, 4, 5), *ins[1] = {&x};
    kn_graph *g;
    int node = node_graph(&g, "Dropout", 10, 1, ins, 1);
    T_OK(kn_node_set_float(g, node, "ratio", 0.4f));
    t_gradcheck(g, node, ins, 1, true, 1e-2f, 1e-3, 1e-4);  /* training: the helper's fixed seed fixes the mask */
    t_gradcheck(g, node, ins, 1, false, 1e-2f, 1e-3, 1e-4); /* inference: identity */
    kn_graph_free(g);
    kn_tensor_release(&x);
}

/* Dropout inside a training session: the output is unshared from its input, and the
 * parameter gradient follows the mask: loss = sum(Dropout(x * w)), dL/dw = x * mask * 2. */
Test(dropout, training_session_backward)
{
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    g->opset = 13;
    int64_t shape[1] = {64};
    kn_tensor w = t_new_rand(60, 0.5f, 1.5f, 1, 64), x = t_new_rand(61, 0.5f, 1.5f, 1, 64);
    int xi, wi, yi, di, n;
    T_OK(kn_graph_add_input(g, "x", KN_FLOAT, 1, shape, &xi));
    T_OK(kn_graph_add_initializer(g, "w", &w, KN_VALUE_PARAM, &wi));
    T_OK(kn_graph_add_value(g, "y", KN_UNDEFINED, -1, NULL, &yi));
    T_OK(kn_graph_add_value(g, "d", KN_UNDEFINED, -1, NULL, &di));
    T_OK(kn_graph_add_node(g, "Mul", "", "mul", 2, (int[]){xi, wi}, 1, &yi, &n));
    T_OK(kn_graph_add_node(g, "Dropout", "", "drop", 1, &yi, 1, &di, &n));
    T_OK(kn_graph_add_output(g, di));
    g->loss = di;
    kn_session_opts o = kn_session_defaults();
    o.training = true;
    o.seed = 5;
    kn_session *s;
    T_OK(kn_session_create(&s, g, &o));
    const kn_tensor *feed[1] = {&x};
    T_OK(kn_session_run(s, feed, 1));
    const kn_tensor *y = kn_session_value(s, "y"), *d = kn_session_value(s, "d");
    cr_assert(y && d && y->data != d->data, "training dropout writes its own buffer");
    const float *X = x.data, *Y = y->data, *D = d->data, *W = kn_session_param(s, 0)->data;
    int dropped = 0;
    for (int i = 0; i < 64; i++) {
        cr_assert_float_eq(Y[i], X[i] * W[i], 1e-6, "the Mul output is intact");
        dropped += D[i] == 0.0f;
    }
    cr_assert(dropped > 10 && dropped < 54, "about half dropped: %d", dropped);
    T_OK(kn_session_backward(s));
    const float *G = kn_session_grad(s, 0)->data;
    for (int i = 0; i < 64; i++)
        cr_assert_float_eq(G[i], D[i] != 0.0f ? 2.0f * X[i] : 0.0f, 1e-5, "dL/dw[%d]", i);
    kn_session_free(s);
    kn_graph_free(g);
    kn_tensor_release(&x);
}
