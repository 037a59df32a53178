/* Shape and data-movement ops: kernels against naive references, each op's
 * forward against plain index loops (cases mirror the official ONNX node
 * tests), gradients by finite differences, static inference with unknown
 * dims, and error messages naming the node. */
#include "helpers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- small builders ---- */

static kn_tensor t_i64(int n, const int64_t *v)
{
    kn_tensor t;
    int64_t shape[1] = {n};
    T_OK(kn_tensor_init(&t, KN_INT64, 1, shape));
    if (n) memcpy(t.data, v, sizeof(int64_t) * (size_t)n);
    return t;
}

static kn_tensor t_typed(kn_dtype dt, int ndim, const int64_t *shape)
{
    kn_tensor t;
    T_OK(kn_tensor_init(&t, dt, ndim, shape));
    return t;
}

static kn_tensor t_iota(int ndim, const int64_t *shape)
{
    kn_tensor t = t_typed(KN_FLOAT, ndim, shape);
    float *d = t.data;
    for (int64_t i = 0; i < kn_tensor_numel(&t); i++) d[i] = (float)i;
    return t;
}

typedef struct run1 {
    kn_graph *g;
    int node;
    kn_tensor outs[8];
    kn_tensor state[KN_OP_MAX_STATE];
} run1;

static void r_build(run1 *r, const char *op, int n_in, kn_tensor *const *in, int n_out, int opset)
{
    kn_tensor meta[8] = {0};
    memset(r, 0, sizeof *r);
    for (int i = 0; i < n_in; i++) kn_tensor_meta(&meta[i], in[i]->dtype, in[i]->ndim, in[i]->shape);
    r->node = t_single_node_graph(&r->g, op, n_in, meta, n_out);
    r->g->opset = opset;
}

static kn_status r_run(run1 *r, kn_tensor *const *in)
{
    for (int i = 0; i < 8; i++) kn_tensor_release(&r->outs[i]);
    return t_run_node(r->g, r->node, in, r->outs, r->state, false);
}

static void r_free(run1 *r)
{
    for (int i = 0; i < 8; i++) kn_tensor_release(&r->outs[i]);
    for (int i = 0; i < KN_OP_MAX_STATE; i++) kn_tensor_release(&r->state[i]);
    kn_graph_free(r->g);
}

static void assert_shape(const kn_tensor *t, int ndim, const int64_t *shape)
{
    char a[160], b[160];
    cr_assert(kn_shape_equal(t->ndim, t->shape, ndim, shape), "shape %s, expected %s",
              kn_shape_str(a, sizeof a, t->ndim, t->shape), kn_shape_str(b, sizeof b, ndim, shape));
}

static void assert_error_names_node(kn_status st, kn_status want, const char *needle)
{
    cr_assert_eq(st, want, "status %s, expected %s (%s)", kn_status_name(st), kn_status_name(want), kn_last_error());
    cr_assert(strstr(kn_last_error(), "n0") != NULL, "message names the node: %s", kn_last_error());
    if (needle) cr_assert(strstr(kn_last_error(), needle) != NULL, "message mentions '%s': %s", needle, kn_last_error());
}

/* ---- kernels ---- */

/* naive transpose: y[j] over y's index space */
static void ref_transpose(size_t es, int nd, const int64_t *shape, const int *perm, const unsigned char *x, unsigned char *y)
{
    int64_t xs[KN_MAX_DIMS], ysh[KN_MAX_DIMS], idx[KN_MAX_DIMS] = {0}, n = 1;
    int64_t st = 1;
    for (int d = nd - 1; d >= 0; d--) { xs[d] = st; st *= shape[d]; }
    for (int d = 0; d < nd; d++) { ysh[d] = shape[perm[d]]; n *= ysh[d]; }
    for (int64_t j = 0; j < n; j++) {
        int64_t off = 0;
        for (int d = 0; d < nd; d++) off += idx[d] * xs[perm[d]];
        memcpy(y + (size_t)j * es, x + (size_t)off * es, es);
        for (int d = nd - 1; d >= 0; d--) {
            if (++idx[d] < ysh[d]) break;
            idx[d] = 0;
        }
    }
}

Test(kernels, transpose_matches_naive_loop)
{
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    struct { int nd; int64_t shape[6]; int perm[6]; } cases[] = {
        {2, {67, 45}, {1, 0}},            /* blocked 2-D path with ragged tiles */
        {2, {1, 7}, {1, 0}},              /* degenerates to a copy */
        {3, {2, 3, 4}, {0, 2, 1}},        /* batched 2-D */
        {3, {2, 3, 4}, {2, 0, 1}},
        {3, {2, 3, 4}, {1, 2, 0}},
        {4, {2, 5, 6, 7}, {0, 2, 3, 1}},  /* NCHW -> NHWC */
        {4, {2, 5, 6, 7}, {0, 3, 1, 2}},  /* NHWC -> NCHW */
        {4, {3, 1, 4, 5}, {3, 1, 0, 2}},
        {5, {2, 3, 2, 4, 3}, {4, 2, 0, 3, 1}},
        {6, {2, 2, 3, 2, 2, 3}, {5, 4, 3, 2, 1, 0}},
        {1, {9}, {0}},
    };
    size_t sizes[] = {1, 2, 4, 8, 3};
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++)
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
            size_t es = sizes[si];
            int64_t n = 1;
            for (int d = 0; d < cases[ci].nd; d++) n *= cases[ci].shape[d];
            unsigned char *x = malloc((size_t)n * es), *y = malloc((size_t)n * es), *r = malloc((size_t)n * es);
            for (size_t i = 0; i < (size_t)n * es; i++) x[i] = (unsigned char)(i * 31 + 7);
            T_OK(k->transpose(es, cases[ci].nd, cases[ci].shape, cases[ci].perm, x, y));
            ref_transpose(es, cases[ci].nd, cases[ci].shape, cases[ci].perm, x, r);
            cr_assert(memcmp(y, r, (size_t)n * es) == 0, "case %zu, element size %zu differs", ci, es);
            free(x); free(y); free(r);
        }
}

Test(kernels, transpose_large_parallel)
{
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    int64_t shape[3] = {4, 130, 259};
    int perm[3] = {0, 2, 1};
    int64_t n = 4 * 130 * 259;
    float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n), *r = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) x[i] = (float)i;
    T_OK(k->transpose(4, 3, shape, perm, x, y));
    ref_transpose(4, 3, shape, perm, (unsigned char *)x, (unsigned char *)r);
    cr_assert(memcmp(y, r, sizeof(float) * (size_t)n) == 0);
    free(x); free(y); free(r);
}

Test(kernels, strided_copy_add_and_gather)
{
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    /* reversed rows of a [3, 4] matrix, every other column */
    float x[12], y[6];
    for (int i = 0; i < 12; i++) x[i] = (float)i;
    int64_t shape[2] = {3, 2}, xs[2] = {-4, 2}, ys[2] = {2, 1};
    T_OK(k->copy_strided(4, 2, shape, x + 8, xs, y, ys));
    float want[6] = {8, 10, 4, 6, 0, 2};
    for (int i = 0; i < 6; i++) cr_assert_float_eq(y[i], want[i], 0);
    /* sum over a 0-stride destination dim */
    float acc[2] = {1, 1};
    int64_t s2[2] = {3, 2}, xs2[2] = {2, 1}, ys2[2] = {0, 1};
    T_OK(k->add_strided(2, s2, want, xs2, acc, ys2));
    cr_assert_float_eq(acc[0], 1 + 8 + 4 + 0, 0);
    cr_assert_float_eq(acc[1], 1 + 10 + 6 + 2, 0);
    /* gather rows 2, 0, 2 of [2, 3, 2] along axis 1 and scatter back */
    float g[12], out[12], back[12] = {0};
    for (int i = 0; i < 12; i++) g[i] = (float)i;
    int64_t idx[3] = {2, 0, 2};
    T_OK(k->gather(4, 2, 3, 2, idx, 3, g, out));
    float wg[12] = {4, 5, 0, 1, 4, 5, 10, 11, 6, 7, 10, 11};
    for (int i = 0; i < 12; i++) cr_assert_float_eq(out[i], wg[i], 0);
    float ones[12];
    for (int i = 0; i < 12; i++) ones[i] = 1;
    T_OK(k->gather_bwd(2, 3, 2, idx, 3, ones, back));
    float wb[12] = {1, 1, 0, 0, 2, 2, 1, 1, 0, 0, 2, 2};
    for (int i = 0; i < 12; i++) cr_assert_float_eq(back[i], wb[i], 0);
}

Test(kernels, cast_conversions)
{
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    float f[6] = {-2.7f, 2.7f, NAN, 1e20f, -1e20f, 0.5f};
    int32_t i32[6];
    T_OK(k->cast(KN_FLOAT, KN_INT32, 6, f, i32));
    cr_assert_eq(i32[0], -2, "truncates toward zero");
    cr_assert_eq(i32[1], 2);
    cr_assert_eq(i32[2], 0, "NaN gives 0");
    cr_assert_eq(i32[3], INT32_MAX, "saturates");
    cr_assert_eq(i32[4], INT32_MIN);
    cr_assert_eq(i32[5], 0);
    uint8_t b[6];
    T_OK(k->cast(KN_FLOAT, KN_BOOL, 6, f, b));
    cr_assert(b[0] == 1 && b[2] == 1 && b[5] == 1);
    int32_t wide[3] = {300, -1, 255};
    uint8_t u8[3];
    T_OK(k->cast(KN_INT32, KN_UINT8, 3, wide, u8));
    cr_assert(u8[0] == 44 && u8[1] == 255 && u8[2] == 255, "integers wrap like numpy");
    int64_t big = (1LL << 53) + 1, back = 0;
    T_OK(k->cast(KN_INT64, KN_INT64, 1, &big, &back));
    cr_assert_eq(back, big);
    /* float16 round trips: exactly representable values survive, others round to nearest */
    float vals[5] = {0.0f, -1.5f, 65504.0f, 6.1035156e-05f, 0.1f}, rt[5];
    uint16_t h[5];
    double d[5];
    T_OK(k->cast(KN_FLOAT, KN_FLOAT16, 5, vals, h));
    T_OK(k->cast(KN_FLOAT16, KN_DOUBLE, 5, h, d));
    T_OK(k->cast(KN_DOUBLE, KN_FLOAT, 5, d, rt));
    for (int i = 0; i < 4; i++) cr_assert_float_eq(rt[i], vals[i], 0);
    cr_assert(fabsf(rt[4] - 0.1f) < 1e-4f && rt[4] != 0.1f, "0.1 rounds to the nearest half: %g", (double)rt[4]);
    int8_t i8[2] = {-5, 7};
    uint16_t h2[2];
    float f2[2];
    T_OK(k->cast(KN_INT8, KN_FLOAT16, 2, i8, h2));
    T_OK(k->cast(KN_FLOAT16, KN_FLOAT, 2, h2, f2));
    cr_assert(f2[0] == -5.0f && f2[1] == 7.0f);
    char *s[1] = {NULL};
    cr_assert_eq(k->cast(KN_STRING, KN_FLOAT, 1, s, f), KN_ERR_UNSUPPORTED);
}

/* ---- Reshape, Flatten, Squeeze, Unsqueeze, Identity ---- */

Test(shape_ops, reshape_zero_and_negative)
{
    int64_t xs[3] = {2, 3, 4};
    kn_tensor x = t_iota(3, xs);
    struct { int n; int64_t s[4]; int64_t allowzero; int nd; int64_t want[4]; } cases[] = {
        {4, {2, 0, 1, -1}, 0, 4, {2, 3, 1, 4}},
        {4, {2, 0, 4, 1}, 0, 4, {2, 3, 4, 1}},
        {4, {-1, 2, 3, 4}, 0, 4, {1, 2, 3, 4}},
        {1, {24}, 0, 1, {24}},
        {3, {2, -1, 2}, 0, 3, {2, 6, 2}},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        kn_tensor s = t_i64(cases[ci].n, cases[ci].s);
        kn_tensor *in[2] = {&x, &s};
        run1 r;
        r_build(&r, "Reshape", 2, in, 1, 14);
        T_OK(kn_node_set_int(r.g, r.node, "allowzero", cases[ci].allowzero));
        T_OK(r_run(&r, in));
        assert_shape(&r.outs[0], cases[ci].nd, cases[ci].want);
        cr_assert(memcmp(r.outs[0].data, x.data, 24 * sizeof(float)) == 0);
        r_free(&r);
        kn_tensor_release(&s);
    }
    kn_tensor_release(&x);
}

Test(shape_ops, reshape_allowzero_and_errors)
{
    int64_t zs[3] = {0, 3, 4}, ss[3] = {3, 4, 0};
    kn_tensor x = t_typed(KN_FLOAT, 3, zs), s = t_i64(3, ss);
    kn_tensor *in[2] = {&x, &s};
    run1 r;
    r_build(&r, "Reshape", 2, in, 1, 14);
    T_OK(kn_node_set_int(r.g, r.node, "allowzero", 1));
    T_OK(r_run(&r, in));
    assert_shape(&r.outs[0], 3, ss);
    r_free(&r);
    kn_tensor_release(&x);
    kn_tensor_release(&s);

    int64_t xs[2] = {2, 3}, bad[2] = {4, 2}, two[2] = {-1, -1};
    x = t_iota(2, xs);
    s = t_i64(2, bad);
    in[1] = &s;
    r_build(&r, "Reshape", 2, in, 1, 13);
    assert_error_names_node(r_run(&r, in), KN_ERR_SHAPE, "[4,2]");
    r_free(&r);
    kn_tensor_release(&s);
    s = t_i64(2, two);
    r_build(&r, "Reshape", 2, in, 1, 13);
    assert_error_names_node(r_run(&r, in), KN_ERR_INVALID, "-1");
    r_free(&r);
    kn_tensor_release(&s);
    kn_tensor_release(&x);
}

Test(shape_ops, reshape_static_inference_with_unknown_batch)
{
    struct { int n; int64_t s[3]; int64_t want[3]; } cases[] = {
        {2, {-1, 400}, {KN_DIM_UNKNOWN, 400}},
        {2, {0, -1}, {KN_DIM_UNKNOWN, 400}},
        {3, {0, 2, -1}, {KN_DIM_UNKNOWN, 2, 200}},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        kn_graph *g;
        int x, s, y, node;
        int64_t xs[3] = {KN_DIM_UNKNOWN, 20, 20};
        T_OK(kn_graph_create(&g));
        T_OK(kn_graph_add_input(g, "x", KN_FLOAT, 3, xs, &x));
        kn_tensor st = t_i64(cases[ci].n, cases[ci].s);
        T_OK(kn_graph_add_initializer(g, "shape", &st, KN_VALUE_CONST, &s));
        T_OK(kn_graph_add_value(g, "y", KN_UNDEFINED, -1, NULL, &y));
        int ins[2] = {x, s};
        T_OK(kn_graph_add_node(g, "Reshape", "", "n0", 2, ins, 1, &y, &node));
        T_OK(kn_graph_add_output(g, y));
        T_OK(kn_graph_infer_shapes(g));
        cr_assert_eq(g->values[y].ndim, cases[ci].n);
        for (int d = 0; d < cases[ci].n; d++)
            cr_assert_eq(g->values[y].shape[d], cases[ci].want[d], "case %zu dim %d: %lld", ci, d,
                         (long long)g->values[y].shape[d]);
        kn_graph_free(g);
    }
}

Test(shape_ops, reshape_runs_as_a_view_in_a_session)
{
    kn_graph *g;
    int x, s, y, z, node;
    int64_t xs[2] = {KN_DIM_UNKNOWN, 6}, ss[2] = {-1, 3};
    T_OK(kn_graph_create(&g));
    T_OK(kn_graph_add_input(g, "x", KN_FLOAT, 2, xs, &x));
    kn_tensor st = t_i64(2, ss);
    T_OK(kn_graph_add_initializer(g, "shape", &st, KN_VALUE_CONST, &s));
    T_OK(kn_graph_add_value(g, "y", KN_UNDEFINED, -1, NULL, &y));
    T_OK(kn_graph_add_value(g, "z", KN_UNDEFINED, -1, NULL, &z));
    int ins[2] = {x, s};
    T_OK(kn_graph_add_node(g, "Reshape", "", "n0", 2, ins, 1, &y, &node));
    T_OK(kn_graph_add_node(g, "Transpose", "", "n1", 1, &y, 1, &z, &node));
    T_OK(kn_graph_add_output(g, z));
    kn_session *sess;
    T_OK(kn_session_create(&sess, g, NULL));
    for (int batch = 1; batch <= 2; batch++) {
        int64_t in_shape[2] = {batch, 6};
        kn_tensor in = t_iota(2, in_shape);
        const kn_tensor *inp[1] = {&in};
        T_OK(kn_session_run(sess, inp, 1));
        const kn_tensor *out = kn_session_output(sess, 0);
        int64_t want[2] = {3, 2 * batch};
        assert_shape(out, 2, want);
        const float *o = out->data;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 2 * batch; j++) cr_assert_float_eq(o[i * 2 * batch + j], (float)(j * 3 + i), 0);
        kn_tensor_release(&in);
    }
    kn_session_free(sess);
    kn_graph_free(g);
}

Test(shape_ops, flatten_axes)
{
    int64_t xs[4] = {2, 3, 4, 5};
    kn_tensor x = t_iota(4, xs);
    kn_tensor *in[1] = {&x};
    int64_t axes[] = {0, 1, 2, 3, 4, -1, -2, -3, -4};
    int64_t want[][2] = {{1, 120}, {2, 60}, {6, 20}, {24, 5}, {120, 1}, {24, 5}, {6, 20}, {2, 60}, {1, 120}};
    for (size_t i = 0; i < sizeof axes / sizeof *axes; i++) {
        run1 r;
        r_build(&r, "Flatten", 1, in, 1, 13);
        T_OK(kn_node_set_int(r.g, r.node, "axis", axes[i]));
        T_OK(r_run(&r, in));
        assert_shape(&r.outs[0], 2, want[i]);
        cr_assert(memcmp(r.outs[0].data, x.data, 120 * sizeof(float)) == 0);
        r_free(&r);
    }
    run1 r;
    r_build(&r, "Flatten", 1, in, 1, 13);
    T_OK(kn_node_set_int(r.g, r.node, "axis", 5));
    assert_error_names_node(r_run(&r, in), KN_ERR_INVALID, "axis 5");
    r_free(&r);
    kn_tensor_release(&x);
}

Test(shape_ops, squeeze_unsqueeze_by_opset)
{
    int64_t xs[4] = {1, 3, 1, 5};
    kn_tensor x = t_iota(4, xs);
    int64_t neg[1] = {-2};
    kn_tensor axes = t_i64(1, neg);
    kn_tensor *in[2] = {&x, &axes};
    run1 r;
    /* opset 13: axes as input */
    r_build(&r, "Squeeze", 2, in, 1, 13);
    T_OK(r_run(&r, in));
    int64_t w1[3] = {1, 3, 5};
    assert_shape(&r.outs[0], 3, w1);
    r_free(&r);
    r_build(&r, "Unsqueeze", 2, in, 1, 13);
    T_OK(r_run(&r, in));
    int64_t w2[5] = {1, 3, 1, 1, 5};
    assert_shape(&r.outs[0], 5, w2);
    r_free(&r);
    /* opset 11: axes as attribute; no axes squeezes every 1 */
    r_build(&r, "Squeeze", 1, in, 1, 11);
    T_OK(r_run(&r, in));
    int64_t w3[2] = {3, 5};
    assert_shape(&r.outs[0], 2, w3);
    r_free(&r);
    int64_t ua[3] = {5, 4, 2};
    int64_t x3s[3] = {3, 4, 5};
    kn_tensor x3 = t_iota(3, x3s);
    kn_tensor *in3[1] = {&x3};
    r_build(&r, "Unsqueeze", 1, in3, 1, 11);
    T_OK(kn_node_set_ints(r.g, r.node, "axes", 3, ua));
    T_OK(r_run(&r, in3));
    int64_t w4[6] = {3, 4, 1, 5, 1, 1};
    assert_shape(&r.outs[0], 6, w4);
    r_free(&r);
    /* errors */
    int64_t one[1] = {1};
    kn_tensor bad = t_i64(1, one);
    kn_tensor *inb[2] = {&x, &bad};
    r_build(&r, "Squeeze", 2, inb, 1, 13);
    assert_error_names_node(r_run(&r, inb), KN_ERR_SHAPE, "axis 1");
    r_free(&r);
    r_build(&r, "Unsqueeze", 1, in, 1, 13);
    assert_error_names_node(r_run(&r, in), KN_ERR_INVALID, "axes");
    r_free(&r);
    kn_tensor_release(&bad);
    kn_tensor_release(&x3);
    kn_tensor_release(&axes);
    kn_tensor_release(&x);
}

Test(shape_ops, view_ops_gradients)
{
    kn_tensor x = t_new_rand(3, -1, 1, 3, 2, 1, 3);
    int64_t sv[2] = {3, -1}, ax[1] = {1};
    kn_tensor s = t_i64(2, sv), a = t_i64(1, ax);
    kn_tensor *in_r[2] = {&x, &s}, *in_a[2] = {&x, &a}, *in_x[1] = {&x};
    run1 r;
    r_build(&r, "Reshape", 2, in_r, 1, 13);
    t_gradcheck(r.g, r.node, in_r, 1, false, 1e-2f, 1e-3, 1e-4);
    r_free(&r);
    r_build(&r, "Squeeze", 2, in_a, 1, 13);
    t_gradcheck(r.g, r.node, in_a, 1, false, 1e-2f, 1e-3, 1e-4);
    r_free(&r);
    r_build(&r, "Unsqueeze", 2, in_a, 1, 13);
    t_gradcheck(r.g, r.node, in_a, 1, false, 1e-2f, 1e-3, 1e-4);
    r_free(&r);
    r_build(&r, "Flatten", 1, in_x, 1, 13);
    t_gradcheck(r.g, r.node, in_x, 1, false, 1e-2f, 1e-3, 1e-4);
    r_free(&r);
    r_build(&r, "Identity", 1, in_x, 1, 13);
    t_gradcheck(r.g, r.node, in_x, 1, false, 1e-2f, 1e-3, 1e-4);
    r_free(&r);
    kn_tensor_release(&s);
    kn_tensor_release(&a);
    kn_tensor_release(&x);
}

/* ---- Transpose ---- */

Test(shape_ops, transpose_op_and_gradient)
{
    kn_tensor x = t_new_rand(5, -1, 1, 3, 2, 3, 4);
    kn_tensor *in[1] = {&x};
    int64_t perms[][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (int pi = 0; pi <= 6; pi++) {
        run1 r;
        r_build(&r, "Transpose", 1, in, 1, 13);
        int perm[3] = {2, 1, 0};
        if (pi < 6) {
            T_OK(kn_node_set_ints(r.g, r.node, "perm", 3, perms[pi]));
            for (int d = 0; d < 3; d++) perm[d] = (int)perms[pi][d];
        }
        T_OK(r_run(&r, in));
        float ref[24];
        ref_transpose(4, 3, x.shape, perm, x.data, (unsigned char *)ref);
        cr_assert(memcmp(ref, r.outs[0].data, sizeof ref) == 0, "perm %d", pi);
        t_gradcheck(r.g, r.node, in, 1, false, 1e-2f, 1e-3, 1e-4);
        r_free(&r);
    }
    run1 r;
    int64_t bad[3] = {0, 0, 1};
    r_build(&r, "Transpose", 1, in, 1, 13);
    T_OK(kn_node_set_ints(r.g, r.node, "perm", 3, bad));
    assert_error_names_node(r_run(&r, in), KN_ERR_INVALID, "[0,0,1]");
    r_free(&r);
    kn_tensor_release(&x);
}

/* ---- Concat, Split ---- */

Test(shape_ops, concat_axes_and_gradient)
{
    kn_tensor a = t_new_rand(1, -1, 1, 3, 2, 3, 2), b = t_new_rand(2, -1, 1, 3, 2, 1, 2);
    kn_tensor *in[2] = {&a, &b};
    for (int64_t axis = 1; axis >= -2; axis -= 3) { /* 1 and its negative spelling -2 */
        run1 r;
        r_build(&r, "Concat", 2, in, 1, 13);
        T_OK(kn_node_set_int(r.g, r.node, "axis", axis));
        T_OK(r_run(&r, in));
        int64_t want[3] = {2, 4, 2};
        assert_shape(&r.outs[0], 3, want);
        const float *y = r.outs[0].data, *pa = a.data, *pb = b.data;
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 2; k++)
                    cr_assert_float_eq(y[(i * 4 + j) * 2 + k], j < 3 ? pa[(i * 3 + j) * 2 + k] : pb[i * 2 + k], 0);
        t_gradcheck(r.g, r.node, in, 3, false, 1e-2f, 1e-3, 1e-4);
        r_free(&r);
    }
    run1 r;
    r_build(&r, "Concat", 2, in, 1, 13);
    T_OK(kn_node_set_int(r.g, r.node, "axis", 0));
    assert_error_names_node(r_run(&r, in), KN_ERR_SHAPE, "axis 0");
    r_free(&r);
    kn_tensor_release(&a);
    kn_tensor_release(&b);
}

Test(shape_ops, split_variants_and_gradient)
{
    int64_t xs[2] = {2, 6};
    kn_tensor x = t_iota(2, xs);
    kn_tensor *in1[1] = {&x};
    run1 r;
    /* equal parts along axis 1 */
    r_build(&r, "Split", 1, in1, 3, 13);
    T_OK(kn_node_set_int(r.g, r.node, "axis", 1));
    T_OK(r_run(&r, in1));
    for (int o = 0; o < 3; o++) {
        const float *y = r.outs[o].data;
        float want[4] = {(float)(2 * o), (float)(2 * o + 1), (float)(6 + 2 * o), (float)(7 + 2 * o)};
        for (int i = 0; i < 4; i++) cr_assert_float_eq(y[i], want[i], 0);
    }
    r_free(&r);
    /* split input (opset 13) and split attribute (opset 11) */
    int64_t parts[2] = {2, 4};
    kn_tensor sp = t_i64(2, parts);
    kn_tensor *in2[2] = {&x, &sp};
    for (int v = 0; v < 2; v++) {
        r_build(&r, "Split", v ? 1 : 2, in2, 2, v ? 11 : 13);
        T_OK(kn_node_set_int(r.g, r.node, "axis", -1));
        if (v) T_OK(kn_node_set_ints(r.g, r.node, "split", 2, parts));
        T_OK(r_run(&r, in2));
        int64_t w0[2] = {2, 2}, w1[2] = {2, 4};
        assert_shape(&r.outs[0], 2, w0);
        assert_shape(&r.outs[1], 2, w1);
        cr_assert_float_eq(((float *)r.outs[1].data)[4], 8.0f, 0);
        r_free(&r);
    }
    /* num_outputs (opset 18): ceil-sized parts, the last one smaller */
    int64_t x7s[1] = {7};
    kn_tensor x7 = t_iota(1, x7s);
    kn_tensor *in7[1] = {&x7};
    r_build(&r, "Split", 1, in7, 3, 18);
    T_OK(kn_node_set_int(r.g, r.node, "num_outputs", 3));
    T_OK(r_run(&r, in7));
    cr_assert(r.outs[0].shape[0] == 3 && r.outs[1].shape[0] == 3 && r.outs[2].shape[0] == 1);
    cr_assert_float_eq(((float *)r.outs[2].data)[0], 6.0f, 0);
    r_free(&r);
    /* 7 does not split evenly without num_outputs */
    r_build(&r, "Split", 1, in7, 3, 13);
    assert_error_names_node(r_run(&r, in7), KN_ERR_SHAPE, "7");
    r_free(&r);
    /* zero-size parts */
    int64_t zs[1] = {0}, zp[3] = {0, 0, 0};
    kn_tensor xz = t_typed(KN_FLOAT, 1, zs), spz = t_i64(3, zp);
    kn_tensor *inz[2] = {&xz, &spz};
    r_build(&r, "Split", 2, inz, 3, 13);
    T_OK(r_run(&r, inz));
    cr_assert_eq(r.outs[2].shape[0], 0);
    r_free(&r);
    /* gradient flows to the data from output 0 */
    kn_tensor xg = t_new_rand(4, -1, 1, 2, 3, 4);
    kn_tensor *ing[2] = {&xg, &sp};
    r_build(&r, "Split", 2, ing, 2, 13);
    T_OK(kn_node_set_int(r.g, r.node, "axis", 1));
    int64_t p13[2] = {1, 3};
    memcpy(sp.data, p13, sizeof p13);
    t_gradcheck(r.g, r.node, ing, 1, false, 1e-2f, 1e-3, 1e-4);
    r_free(&r);
    kn_tensor_release(&xg);
    kn_tensor_release(&xz);
    kn_tensor_release(&spz);
    kn_tensor_release(&x7);
    kn_tensor_release(&sp);
    kn_tensor_release(&x);
}

/* ---- Slice ---- */

/* numpy-style reference for one axis list: clamping as in the ONNX spec */
static void ref_slice(const kn_tensor *x, const int64_t *st, const int64_t *en, const int64_t *sp, float *y, int64_t *shape)
{
    int64_t s[3], n[3];
    for (int d = 0; d < 3; d++) {
        int64_t dim = x->shape[d], a = st[d], b = en[d];
        if (a < 0) a += dim;
        if (b < 0) b += dim;
        if (sp[d] > 0) {
            a = a < 0 ? 0 : a > dim ? dim : a;
            b = b < 0 ? 0 : b > dim ? dim : b;
        } else {
            a = a < 0 ? 0 : a > dim - 1 ? dim - 1 : a;
            b = b < -1 ? -1 : b > dim - 1 ? dim - 1 : b;
        }
        n[d] = 0;
        for (int64_t i = a; sp[d] > 0 ? i < b : i > b; i += sp[d]) {
            n[d]++;
            if (sp[d] > 0 ? b - i <= sp[d] : i - b - 1 <= -(sp[d] + 1)) break; /* next step passes the end */
        }
        s[d] = a;
        shape[d] = n[d];
    }
    const float *xd = x->data;
    int64_t k = 0;
    for (int64_t i = 0; i < n[0]; i++)
        for (int64_t j = 0; j < n[1]; j++)
            for (int64_t l = 0; l < n[2]; l++)
                y[k++] = xd[((s[0] + i * sp[0]) * x->shape[1] + s[1] + j * sp[1]) * x->shape[2] + s[2] + l * sp[2]];
}

Test(shape_ops, slice_steps_clamping_and_gradient)
{
    int64_t xs[3] = {20, 10, 5};
    kn_tensor x = t_iota(3, xs);
    struct { int64_t st[3], en[3], sp[3]; } cases[] = {
        {{20, 10, 4}, {0, 0, 1}, {-1, -3, -2}},                  /* test_slice_neg_steps */
        {{0, 0, 3}, {20, 10, 4}, {1, 1, 1}},
        {{0, 1, 0}, {3, 1000, 5}, {1, 1, 1}},                     /* end out of bounds */
        {{0, 1000, 0}, {3, 1000, 5}, {1, 1, 1}},                  /* start out of bounds: empty */
        {{-1, -1, -100}, {-1000, INT64_MIN, INT64_MAX}, {-2, -1, 2}},
        {{5, 0, 4}, {INT64_MAX, -1, -100}, {INT64_MAX, 4, INT64_MIN}},
    };
    int64_t axes_v[3] = {0, -2, 2};
    float *ref = malloc(sizeof(float) * 1000);
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        kn_tensor st = t_i64(3, cases[ci].st), en = t_i64(3, cases[ci].en), ax = t_i64(3, axes_v), sp = t_i64(3, cases[ci].sp);
        kn_tensor *in[5] = {&x, &st, &en, &ax, &sp};
        run1 r;
        r_build(&r, "Slice", 5, in, 1, 13);
        T_OK(r_run(&r, in));
        int64_t shape[3];
        ref_slice(&x, cases[ci].st, cases[ci].en, cases[ci].sp, ref, shape);
        assert_shape(&r.outs[0], 3, shape);
        if (kn_tensor_numel(&r.outs[0]))
            cr_assert(memcmp(ref, r.outs[0].data, sizeof(float) * (size_t)kn_tensor_numel(&r.outs[0])) == 0, "case %zu", ci);
        r_free(&r);
        kn_tensor_release(&st); kn_tensor_release(&en); kn_tensor_release(&ax); kn_tensor_release(&sp);
    }
    free(ref);
    /* opset 9: attributes, default axes */
    {
        kn_tensor *in[1] = {&x};
        run1 r;
        r_build(&r, "Slice", 1, in, 1, 9);
        int64_t s[2] = {1, -3}, e[2] = {3, 100};
        T_OK(kn_node_set_ints(r.g, r.node, "starts", 2, s));
        T_OK(kn_node_set_ints(r.g, r.node, "ends", 2, e));
        T_OK(r_run(&r, in));
        int64_t want[3] = {2, 3, 5};
        assert_shape(&r.outs[0], 3, want);
        cr_assert_float_eq(((float *)r.outs[0].data)[0], (float)(1 * 50 + 7 * 5), 0);
        r_free(&r);
    }
    /* step 0 is an error */
    {
        int64_t z[1] = {0}, one[1] = {1};
        kn_tensor st = t_i64(1, z), en = t_i64(1, one), ax = t_i64(1, z), sp = t_i64(1, z);
        kn_tensor *in[5] = {&x, &st, &en, &ax, &sp};
        run1 r;
        r_build(&r, "Slice", 5, in, 1, 13);
        assert_error_names_node(r_run(&r, in), KN_ERR_INVALID, "step");
        r_free(&r);
        kn_tensor_release(&st); kn_tensor_release(&en); kn_tensor_release(&ax); kn_tensor_release(&sp);
    }
    /* gradient through a reversed, strided slice */
    {
        kn_tensor xg = t_new_rand(6, -1, 1, 3, 2, 4, 5);
        int64_t s[2] = {-1, 4}, e[2] = {-100, 0}, a[2] = {1, 2}, p[2] = {-2, -3};
        kn_tensor st = t_i64(2, s), en = t_i64(2, e), ax = t_i64(2, a), sp = t_i64(2, p);
        kn_tensor *in[5] = {&xg, &st, &en, &ax, &sp};
        run1 r;
        r_build(&r, "Slice", 5, in, 1, 13);
        t_gradcheck(r.g, r.node, in, 1, false, 1e-2f, 1e-3, 1e-4);
        r_free(&r);
        kn_tensor_release(&st); kn_tensor_release(&en); kn_tensor_release(&ax); kn_tensor_release(&sp);
        kn_tensor_release(&xg);
    }
    kn_tensor_release(&x);
}

/* ---- Gather ---- */

Test(shape_ops, gather_axes_negative_and_int32_indices)
{
    int64_t xs[3] = {5, 4, 3};
    kn_tensor x = t_iota(3, xs);
    int64_t iv[2][3] = {{0, -1, 2}, {3, -4, 0}};
    int64_t is[2] = {2, 3};
    kn_tensor idx = t_typed(KN_INT64, 2, is);
    memcpy(idx.data, iv, sizeof iv);
    kn_tensor idx32 = t_typed(KN_INT32, 2, is);
    for (int i = 0; i < 6; i++) ((int32_t *)idx32.data)[i] = (int32_t)((int64_t *)iv)[i];
    for (int v = 0; v < 2; v++) {
        kn_tensor *in[2] = {&x, v ? &idx32 : &idx};
        run1 r;
        r_build(&r, "Gather", 2, in, 1, 13);
        T_OK(kn_node_set_int(r.g, r.node, "axis", 1));
        T_OK(r_run(&r, in));
        int64_t want[4] = {5, 2, 3, 3};
        assert_shape(&r.outs[0], 4, want);
        const float *y = r.outs[0].data;
        for (int a = 0; a < 5; a++)
            for (int j = 0; j < 6; j++) {
                int64_t k = ((int64_t *)iv)[j];
                if (k < 0) k += 4;
                for (int c = 0; c < 3; c++) cr_assert_float_eq(y[(a * 6 + j) * 3 + c], (float)((a * 4 + k) * 3 + c), 0);
            }
        r_free(&r);
    }
    /* scalar index on axis 0 drops the dim */
    int64_t neg[1] = {-5};
    kn_tensor sc = t_typed(KN_INT64, 0, NULL);
    memcpy(sc.data, neg, sizeof neg);
    kn_tensor *ins[2] = {&x, &sc};
    run1 r;
    r_build(&r, "Gather", 2, ins, 1, 13);
    T_OK(r_run(&r, ins));
    int64_t w2[2] = {4, 3};
    assert_shape(&r.outs[0], 2, w2);
    cr_assert_float_eq(((float *)r.outs[0].data)[11], 11.0f, 0);
    r_free(&r);
    /* out of range: an error naming the node and the index, never a crash */
    ((int64_t *)idx.data)[4] = 4;
    kn_tensor *inb[2] = {&x, &idx};
    r_build(&r, "Gather", 2, inb, 1, 13);
    T_OK(kn_node_set_int(r.g, r.node, "axis", -2));
    assert_error_names_node(r_run(&r, inb), KN_ERR_INVALID, "index 4");
    r_free(&r);
    ((int64_t *)idx.data)[4] = -5;
    r_build(&r, "Gather", 2, inb, 1, 13);
    T_OK(kn_node_set_int(r.g, r.node, "axis", 1));
    assert_error_names_node(r_run(&r, inb), KN_ERR_INVALID, "index -5");
    r_free(&r);
    kn_tensor_release(&sc);
    kn_tensor_release(&idx);
    kn_tensor_release(&idx32);
    kn_tensor_release(&x);
}

Test(shape_ops, gather_gradient_with_repeated_indices)
{
    kn_tensor x = t_new_rand(8, -1, 1, 2, 4, 3);
    int64_t iv[4] = {1, -1, 1, 0};
    kn_tensor idx = t_i64(4, iv);
    kn_tensor *in[2] = {&x, &idx};
    run1 r;
    r_build(&r, "Gather", 2, in, 1, 13);
    T_OK(kn_node_set_int(r.g, r.node, "axis", 1));
    t_gradcheck(r.g, r.node, in, 1, false, 1e-2f, 1e-3, 1e-4);
    r_free(&r);
    kn_tensor_release(&idx);
    kn_tensor_release(&x);
}

/* ---- Shape, Size, Constant, ConstantOfShape, Range ---- */

Test(shape_ops, shape_start_end_and_size)
{
    int64_t xs[3] = {3, 4, 5};
    kn_tensor x = t_typed(KN_FLOAT, 3, xs);
    kn_tensor *in[1] = {&x};
    struct { int has_s, has_e; int64_t s, e; int n; int64_t want[3]; } cases[] = {
        {0, 0, 0, 0, 3, {3, 4, 5}}, {0, 1, 0, 10, 3, {3, 4, 5}}, {1, 0, -10, 0, 3, {3, 4, 5}},
        {0, 1, 0, 1, 1, {3}},       {0, 1, 0, -1, 2, {3, 4}},    {1, 0, 1, 0, 2, {4, 5}},
        {1, 1, 1, 2, 1, {4}},       {1, 1, 1, -1, 1, {4}},       {1, 0, -1, 0, 1, {5}},
        {1, 1, 2, 1, 0, {0}},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        run1 r;
        r_build(&r, "Shape", 1, in, 1, 15);
        if (cases[ci].has_s) T_OK(kn_node_set_int(r.g, r.node, "start", cases[ci].s));
        if (cases[ci].has_e) T_OK(kn_node_set_int(r.g, r.node, "end", cases[ci].e));
        T_OK(r_run(&r, in));
        cr_assert_eq(r.outs[0].dtype, KN_INT64);
        cr_assert_eq(r.outs[0].shape[0], cases[ci].n, "case %zu", ci);
        for (int i = 0; i < cases[ci].n; i++) cr_assert_eq(((int64_t *)r.outs[0].data)[i], cases[ci].want[i]);
        r_free(&r);
    }
    run1 r;
    r_build(&r, "Size", 1, in, 1, 13);
    T_OK(r_run(&r, in));
    cr_assert_eq(r.outs[0].ndim, 0);
    cr_assert_eq(((int64_t *)r.outs[0].data)[0], 60);
    r_free(&r);
    kn_tensor_release(&x);
}

Test(shape_ops, shape_of_unknown_batch_infers_statically)
{
    kn_graph *g;
    int x, y, node;
    int64_t xs[2] = {KN_DIM_UNKNOWN, 7};
    T_OK(kn_graph_create(&g));
    T_OK(kn_graph_add_input(g, "x", KN_FLOAT, 2, xs, &x));
    T_OK(kn_graph_add_value(g, "y", KN_UNDEFINED, -1, NULL, &y));
    T_OK(kn_graph_add_node(g, "Shape", "", "n0", 1, &x, 1, &y, &node));
    T_OK(kn_graph_add_output(g, y));
    T_OK(kn_graph_infer_shapes(g));
    cr_assert_eq(g->values[y].dtype, KN_INT64);
    cr_assert_eq(g->values[y].ndim, 1);
    cr_assert_eq(g->values[y].shape[0], 2);
    kn_graph_free(g);
}

Test(shape_ops, constant_attributes)
{
    run1 r;
    int64_t ints[3] = {4, -5, 6};
    r_build(&r, "Constant", 0, NULL, 1, 13);
    T_OK(kn_node_set_ints(r.g, r.node, "value_ints", 3, ints));
    T_OK(r_run(&r, NULL));
    cr_assert_eq(r.outs[0].dtype, KN_INT64);
    cr_assert(memcmp(r.outs[0].data, ints, sizeof ints) == 0);
    r_free(&r);
    r_build(&r, "Constant", 0, NULL, 1, 13);
    T_OK(kn_node_set_float(r.g, r.node, "value_float", 2.5f));
    T_OK(r_run(&r, NULL));
    cr_assert_eq(r.outs[0].ndim, 0);
    cr_assert_float_eq(((float *)r.outs[0].data)[0], 2.5f, 0);
    r_free(&r);
    r_build(&r, "Constant", 0, NULL, 1, 13);
    int64_t ts[2] = {2, 2};
    kn_tensor t = t_typed(KN_DOUBLE, 2, ts);
    ((double *)t.data)[3] = 7.25;
    T_OK(kn_node_set_tensor(r.g, r.node, "value", &t));
    T_OK(r_run(&r, NULL));
    cr_assert_eq(r.outs[0].dtype, KN_DOUBLE);
    cr_assert_eq(((double *)r.outs[0].data)[3], 7.25);
    r_free(&r);
    r_build(&r, "Constant", 0, NULL, 1, 13);
    T_OK(kn_node_set_string(r.g, r.node, "value_string", "hello"));
    assert_error_names_node(r_run(&r, NULL), KN_ERR_UNSUPPORTED, "value_string");
    r_free(&r);
    r_build(&r, "Constant", 0, NULL, 1, 13);
    assert_error_names_node(r_run(&r, NULL), KN_ERR_INVALID, "exactly one");
    r_free(&r);
}

Test(shape_ops, constant_of_shape)
{
    int64_t sv[2] = {10, 6};
    kn_tensor s = t_i64(2, sv);
    kn_tensor *in[1] = {&s};
    run1 r;
    r_build(&r, "ConstantOfShape", 1, in, 1, 9);
    T_OK(r_run(&r, in));
    cr_assert_eq(r.outs[0].dtype, KN_FLOAT);
    assert_shape(&r.outs[0], 2, sv);
    for (int i = 0; i < 60; i++) cr_assert_float_eq(((float *)r.outs[0].data)[i], 0.0f, 0);
    r_free(&r);
    r_build(&r, "ConstantOfShape", 1, in, 1, 9);
    int64_t one[1] = {1};
    kn_tensor v = t_typed(KN_INT32, 1, one);
    ((int32_t *)v.data)[0] = -3;
    T_OK(kn_node_set_tensor(r.g, r.node, "value", &v));
    T_OK(r_run(&r, in));
    cr_assert_eq(r.outs[0].dtype, KN_INT32);
    for (int i = 0; i < 60; i++) cr_assert_eq(((int32_t *)r.outs[0].data)[i], -3);
    r_free(&r);
    sv[1] = -6;
    memcpy(s.data, sv, sizeof sv);
    r_build(&r, "ConstantOfShape", 1, in, 1, 9);
    assert_error_names_node(r_run(&r, in), KN_ERR_INVALID, "-6");
    r_free(&r);
    kn_tensor_release(&s);
}

Test(shape_ops, range_float_and_int)
{
    kn_tensor a = t_typed(KN_FLOAT, 0, NULL), b = t_typed(KN_FLOAT, 0, NULL), d = t_typed(KN_FLOAT, 0, NULL);
    *(float *)a.data = 1;
    *(float *)b.data = 5;
    *(float *)d.data = 2;
    kn_tensor *in[3] = {&a, &b, &d};
    run1 r;
    r_build(&r, "Range", 3, in, 1, 11);
    T_OK(r_run(&r, in));
    cr_assert_eq(r.outs[0].shape[0], 2);
    cr_assert(((float *)r.outs[0].data)[0] == 1.0f && ((float *)r.outs[0].data)[1] == 3.0f);
    r_free(&r);
    kn_tensor ia = t_typed(KN_INT32, 0, NULL), ib = t_typed(KN_INT32, 0, NULL), id = t_typed(KN_INT32, 0, NULL);
    *(int32_t *)ia.data = 10;
    *(int32_t *)ib.data = 6;
    *(int32_t *)id.data = -3;
    kn_tensor *ii[3] = {&ia, &ib, &id};
    r_build(&r, "Range", 3, ii, 1, 11);
    T_OK(r_run(&r, ii));
    cr_assert_eq(r.outs[0].dtype, KN_INT32);
    cr_assert_eq(r.outs[0].shape[0], 2);
    cr_assert(((int32_t *)r.outs[0].data)[0] == 10 && ((int32_t *)r.outs[0].data)[1] == 7);
    r_free(&r);
    *(int32_t *)id.data = 0;
    r_build(&r, "Range", 3, ii, 1, 11);
    assert_error_names_node(r_run(&r, ii), KN_ERR_INVALID, "delta");
    r_free(&r);
    kn_tensor_release(&a); kn_tensor_release(&b); kn_tensor_release(&d);
    kn_tensor_release(&ia); kn_tensor_release(&ib); kn_tensor_release(&id);
}

/* ---- Expand, Tile, Cast ---- */

Test(shape_ops, expand_forward_and_gradient)
{
    int64_t xs[2] = {3, 1};
    kn_tensor x = t_iota(2, xs);
    int64_t sv[3] = {2, 1, 6};
    kn_tensor s = t_i64(3, sv);
    kn_tensor *in[2] = {&x, &s};
    run1 r;
    r_build(&r, "Expand", 2, in, 1, 13);
    T_OK(r_run(&r, in));
    int64_t want[3] = {2, 3, 6};
    assert_shape(&r.outs[0], 3, want);
    for (int i = 0; i < 36; i++) cr_assert_float_eq(((float *)r.outs[0].data)[i], (float)((i / 6) % 3), 0);
    t_gradcheck(r.g, r.node, in, 1, false, 1e-2f, 1e-3, 1e-4);
    r_free(&r);
    int64_t bad[2] = {2, 6};
    kn_tensor sb = t_i64(2, bad);
    kn_tensor *inb[2] = {&x, &sb};
    r_build(&r, "Expand", 2, inb, 1, 13);
    assert_error_names_node(r_run(&r, inb), KN_ERR_SHAPE, "[3,1]");
    r_free(&r);
    kn_tensor_release(&sb);
    kn_tensor_release(&s);
    kn_tensor_release(&x);
}

Test(shape_ops, tile_matches_reference)
{
    int64_t xs[3] = {2, 3, 4};
    kn_tensor x = t_iota(3, xs);
    int64_t rv[3] = {3, 1, 2};
    kn_tensor rep = t_i64(3, rv);
    kn_tensor *in[2] = {&x, &rep};
    run1 r;
    r_build(&r, "Tile", 2, in, 1, 13);
    T_OK(r_run(&r, in));
    int64_t want[3] = {6, 3, 8};
    assert_shape(&r.outs[0], 3, want);
    const float *y = r.outs[0].data;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 8; k++) cr_assert_float_eq(y[(i * 3 + j) * 8 + k], (float)(((i % 2) * 3 + j) * 4 + k % 4), 0);
    r_free(&r);
    int64_t short_r[2] = {1, 2};
    kn_tensor rb = t_i64(2, short_r);
    kn_tensor *inb[2] = {&x, &rb};
    r_build(&r, "Tile", 2, inb, 1, 13);
    assert_error_names_node(r_run(&r, inb), KN_ERR_INVALID, "repeats");
    r_free(&r);
    kn_tensor_release(&rb);
    kn_tensor_release(&rep);
    kn_tensor_release(&x);
}

Test(shape_ops, cast_op_round_trip_and_errors)
{
    int64_t xs[1] = {4};
    kn_tensor x = t_typed(KN_FLOAT, 1, xs);
    float v[4] = {1.5f, -2.25f, 1024.0f, -0.0f};
    memcpy(x.data, v, sizeof v);
    kn_tensor *in[1] = {&x};
    run1 r;
    r_build(&r, "Cast", 1, in, 1, 13);
    T_OK(kn_node_set_int(r.g, r.node, "to", KN_FLOAT16));
    T_OK(r_run(&r, in));
    cr_assert_eq(r.outs[0].dtype, KN_FLOAT16);
    kn_tensor h = r.outs[0];
    memset(&r.outs[0], 0, sizeof r.outs[0]);
    r_free(&r);
    kn_tensor *inh[1] = {&h};
    r_build(&r, "Cast", 1, inh, 1, 13);
    T_OK(kn_node_set_int(r.g, r.node, "to", KN_FLOAT));
    T_OK(r_run(&r, inh));
    cr_assert(memcmp(r.outs[0].data, v, sizeof v) == 0, "float -> float16 -> float round trip");
    r_free(&r);
    kn_tensor_release(&h);
    r_build(&r, "Cast", 1, in, 1, 13);
    T_OK(kn_node_set_int(r.g, r.node, "to", KN_INT64));
    T_OK(r_run(&r, in));
    int64_t wi[4] = {1, -2, 1024, 0};
    cr_assert(memcmp(r.outs[0].data, wi, sizeof wi) == 0);
    r_free(&r);
    r_build(&r, "Cast", 1, in, 1, 13);
    T_OK(kn_node_set_int(r.g, r.node, "to", KN_STRING));
    assert_error_names_node(r_run(&r, in), KN_ERR_UNSUPPORTED, "string");
    r_free(&r);
    r_build(&r, "Cast", 1, in, 1, 13);
    T_OK(kn_node_set_int(r.g, r.node, "to", 16)); /* bfloat16 */
    assert_error_names_node(r_run(&r, in), KN_ERR_UNSUPPORTED, "16");
    r_free(&r);
    kn_tensor_release(&x);
}
