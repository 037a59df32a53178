/* The second ops batch (GatherElements, ScatterElements, Trilu, CumSum, Hardmax,
 * OneHot, ...), each against a plain reference, with finite differences where
 * differentiable and index range errors that name the node. */
#include "helpers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static kn_tensor ints(kn_dtype dt, int ndim, const int64_t *shape, const int64_t *v)
{
    kn_tensor t;
    T_OK(kn_tensor_init(&t, dt, ndim, shape));
    for (int64_t i = 0; i < kn_tensor_numel(&t); i++) {
        if (dt == KN_INT32) ((int32_t *)t.data)[i] = (int32_t)v[i];
        else ((int64_t *)t.data)[i] = v[i];
    }
    return t;
}

static kn_tensor scalar_i64(int64_t v)
{
    int64_t s[1] = {1};
    return ints(KN_INT64, 0, s, &v);
}

/* One node of `op` over in[0..n_in); returns its graph and node id. */
static int node_of(kn_graph **g, const char *op, int n_in, kn_tensor *const *in, int n_out, int opset)
{
    kn_tensor meta[8];
    for (int i = 0; i < n_in; i++) meta[i] = *in[i];
    int node = t_single_node_graph(g, op, n_in, meta, n_out);
    (*g)->opset = opset;
    return node;
}

static void expect_error(kn_graph *g, int node, kn_tensor *const *in, const char *needle)
{
    kn_tensor out[2] = {{0}}, state[KN_OP_MAX_STATE] = {0};
    cr_assert_neq(t_run_node(g, node, in, out, state, false), KN_OK, "expected an error about %s", needle);
    cr_assert(strstr(kn_last_error(), "node 'n0'") && strstr(kn_last_error(), needle), "%s", kn_last_error());
    kn_tensor_release(&out[0]);
    kn_tensor_release(&out[1]);
}

/* ---- GatherElements / ScatterElements ---- */

Test(gather_elements, values_negative_indices_gradient_and_range)
{
    kn_tensor x = t_new_rand(1, -1, 1, 3, 3, 4, 2);
    const int64_t is[3] = {2, 3, 2}, iv[12] = {0, -1, 3, 2, 1, 1, -4, 0, 2, 3, 0, 1};
    for (int axis = 1; axis >= 0; axis--) {
        /* axis 0 reuses the same indices clamped into [0, 3) */
        int64_t v[12];
        for (int i = 0; i < 12; i++) v[i] = axis == 1 ? iv[i] : (iv[i] < 0 ? -1 : iv[i] % 3);
        kn_tensor idx = ints(axis ? KN_INT64 : KN_INT32, 3, is, v), *in[2] = {&x, &idx};
        kn_graph *g;
        int node = node_of(&g, "GatherElements", 2, in, 1, 13);
        T_OK(kn_node_set_int(g, node, "axis", axis));
        kn_tensor out[1] = {{0}}, state[KN_OP_MAX_STATE] = {0};
        T_OK(t_run_node(g, node, in, out, state, false));
        cr_assert(out[0].ndim == 3 && out[0].shape[0] == 2 && out[0].shape[1] == 3 && out[0].shape[2] == 2);
        const float *X = x.data, *Y = out[0].data;
        const int64_t dim = axis ? 4 : 3;
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 3; b++)
                for (int c = 0; c < 2; c++) {
                    int64_t j = v[(a * 3 + b) * 2 + c];
                    if (j < 0) j += dim;
                    float want = axis ? X[(a * 4 + j) * 2 + c] : X[(j * 4 + b) * 2 + c];
                    cr_assert_float_eq(Y[(a * 3 + b) * 2 + c], want, 0, "axis %d at %d,%d,%d", axis, a, b, c);
                }
        t_gradcheck(g, node, in, 1, true, 1e-2f, 1e-3, 1e-4);
        kn_tensor_release(&out[0]);
        v[5] = axis ? 4 : -4; /* one past either end */
        kn_tensor bad = ints(KN_INT64, 3, is, v), *bin[2] = {&x, &bad};
        expect_error(g, node, bin, "out of range");
        kn_tensor_release(&bad);
        kn_tensor_release(&idx);
        kn_graph_free(g);
    }
    kn_tensor_release(&x);
}

Test(scatter_elements, reductions_duplicates_and_range)
{
    const struct { const char *red; int opset; } cases[] = {
        {"none", 13}, {"add", 16}, {"mul", 16}, {"max", 18}, {"min", 18},
    };
    const int64_t is_ok[2] = {2, 1}, iv_ok[2] = {1, 0};
    kn_tensor x = t_new(2, 2, 3);
    for (int i = 0; i < 6; i++) ((float *)x.data)[i] = (float)(i + 1);
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const int64_t dup_s[2] = {2, 2}, dup_v[4] = {1, 1, 0, 0};
        kn_tensor idx = ints(KN_INT64, 2, dup_s, dup_v), upd = t_new(2, 2, 2);
        const float up[4] = {10, 20, 30, 0};
        memcpy(upd.data, up, sizeof up);
        /* axis 1: row 0 writes 10 then 20 into column 1; row 1 writes 30 then 0 into column 0 */
        kn_tensor *in[3] = {&x, &idx, &upd};
        kn_graph *g;
        int node = node_of(&g, "ScatterElements", 3, in, 1, cases[k].opset);
        T_OK(kn_node_set_int(g, node, "axis", 1));
        T_OK(kn_node_set_string(g, node, "reduction", cases[k].red));
        kn_tensor out[1] = {{0}}, state[KN_OP_MAX_STATE] = {0};
        T_OK(t_run_node(g, node, in, out, state, false));
        float want[6];
        memcpy(want, x.data, sizeof want);
        for (int r = 0; r < 2; r++)
            for (int j = 0; j < 2; j++) {
                float *d = &want[r * 3 + dup_v[r * 2 + j]], v = up[r * 2 + j];
                if (!strcmp(cases[k].red, "none")) *d = v;
                else if (!strcmp(cases[k].red, "add")) *d += v;
                else if (!strcmp(cases[k].red, "mul")) *d *= v;
                else if (!strcmp(cases[k].red, "max")) *d = fmaxf(*d, v);
                else *d = fminf(*d, v);
            }
        cr_assert_arr_eq(out[0].data, want, sizeof want, "reduction %s", cases[k].red);
        kn_tensor_release(&out[0]);
        kn_tensor_release(&idx);
        kn_tensor_release(&upd);
        kn_graph_free(g);
    }
    /* out of range, and a reduction newer than the model's opset */
    kn_tensor idx = ints(KN_INT64, 2, is_ok, iv_ok), upd = t_new(2, 2, 1);
    ((int64_t *)idx.data)[1] = -4;
    kn_tensor *in[3] = {&x, &idx, &upd};
    kn_graph *g;
    int node = node_of(&g, "ScatterElements", 3, in, 1, 13);
    T_OK(kn_node_set_int(g, node, "axis", 1));
    expect_error(g, node, in, "out of range");
    T_OK(kn_node_set_string(g, node, "reduction", "max"));
    ((int64_t *)idx.data)[1] = 0;
    expect_error(g, node, in, "needs opset 18");
    kn_graph_free(g);
    kn_tensor_release(&idx); kn_tensor_release(&upd);
    kn_tensor_release(&x);
}

/* ---- Trilu ---- */

Test(trilu, upper_lower_shifted_with_gradient)
{
    kn_tensor x = t_new_rand(2, -1, 1, 3, 2, 3, 5);
    for (int upper = 0; upper < 2; upper++)
        for (int64_t k = -4; k <= 6; k += 2) {
            kn_tensor kk = scalar_i64(k), *in[2] = {&x, &kk};
            kn_graph *g;
            int node = node_of(&g, "Trilu", 2, in, 1, 14);
            T_OK(kn_node_set_int(g, node, "upper", upper));
            kn_tensor out[1] = {{0}}, state[KN_OP_MAX_STATE] = {0};
            T_OK(t_run_node(g, node, in, out, state, false));
            const float *X = x.data, *Y = out[0].data;
            for (int b = 0; b < 2; b++)
                for (int r = 0; r < 3; r++)
                    for (int c = 0; c < 5; c++) {
                        int at = (b * 3 + r) * 5 + c;
                        bool keep = upper ? c - r >= k : c - r <= k;
                        cr_assert_float_eq(Y[at], keep ? X[at] : 0.0f, 0, "upper %d k %lld at %d", upper, (long long)k, at);
                    }
            if (k == 0) t_gradcheck(g, node, in, 1, true, 1e-2f, 1e-3, 1e-4);
            kn_tensor_release(&out[0]);
            kn_tensor_release(&kk);
            kn_graph_free(g);
        }
    kn_tensor_release(&x);
}

/* ---- CumSum ---- */

Test(cumsum, flags_axes_dtypes_and_gradient)
{
    kn_tensor x = t_new_rand(3, -1, 1, 3, 2, 3, 4);
    for (int axis = -3; axis < 3; axis++)
        for (int f = 0; f < 4; f++) {
            const bool excl = f & 1, rev = f & 2;
            kn_tensor ax = scalar_i64(axis), *in[2] = {&x, &ax};
            kn_graph *g;
            int node = node_of(&g, "CumSum", 2, in, 1, 14);
            T_OK(kn_node_set_int(g, node, "exclusive", excl));
            T_OK(kn_node_set_int(g, node, "reverse", rev));
            kn_tensor out[1] = {{0}}, state[KN_OP_MAX_STATE] = {0};
            T_OK(t_run_node(g, node, in, out, state, false));
            const int a = axis < 0 ? axis + 3 : axis;
            const int64_t sh[3] = {2, 3, 4}, st[3] = {12, 4, 1};
            float ref[24];
            const float *X = x.data;
            for (int i = 0; i < 24; i++) {
                int64_t pos = i / st[a] % sh[a];
                double s = 0;
                for (int64_t j = 0; j < sh[a]; j++) {
                    bool in_range = rev ? (excl ? j > pos : j >= pos) : (excl ? j < pos : j <= pos);
                    if (in_range) s += X[i + (j - pos) * st[a]];
                }
                ref[i] = (float)s;
            }
            T_ASSERT_CLOSE(out[0].data, ref, 24, 1e-5, 1e-6);
            if (axis == 1) t_gradcheck(g, node, in, 1, true, 1e-2f, 1e-3, 1e-4);
            kn_tensor_release(&out[0]);
            kn_tensor_release(&ax);
            kn_graph_free(g);
        }
    /* int64 input, int32 axis */
    const int64_t s[1] = {5}, v[5] = {1, 2, 3, 4, INT64_C(1) << 40}, one[1] = {1};
    kn_tensor xi = ints(KN_INT64, 1, s, v), ax = ints(KN_INT32, 0, one, (int64_t[]){0}), *in[2] = {&xi, &ax};
    kn_graph *g;
    int node = node_of(&g, "CumSum", 2, in, 1, 14);
    kn_tensor out[1] = {{0}}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, out, state, false));
    const int64_t want[5] = {1, 3, 6, 10, 10 + (INT64_C(1) << 40)};
    cr_assert_arr_eq(out[0].data, want, sizeof want);
    kn_tensor_release(&out[0]);
    ((int32_t *)ax.data)[0] = 1;
    expect_error(g, node, in, "axis");
    kn_graph_free(g);
    kn_tensor_release(&xi); kn_tensor_release(&ax); kn_tensor_release(&x);
}

/* ---- Hardmax ---- */

Test(hardmax, single_axis_and_legacy_coercion)
{
    kn_tensor x = t_new_rand(4, -1, 1, 3, 2, 3, 4);
    float *X = x.data;
    X[1] = X[5] = 5; /* a tie in the first (axis-1) column 1: the first one wins */
    for (int opset = 11; opset <= 13; opset += 2) {
        kn_tensor *in[1] = {&x};
        kn_graph *g;
        int node = node_of(&g, "Hardmax", 1, in, 1, opset);
        T_OK(kn_node_set_int(g, node, "axis", 1));
        kn_tensor out[1] = {{0}}, state[KN_OP_MAX_STATE] = {0};
        T_OK(t_run_node(g, node, in, out, state, false));
        float ref[24] = {0};
        if (opset == 13) { /* over axis 1 of [2, 3, 4] */
            for (int a = 0; a < 2; a++)
                for (int c = 0; c < 4; c++) {
                    int best = 0;
                    for (int b = 1; b < 3; b++)
                        if (X[(a * 3 + b) * 4 + c] > X[(a * 3 + best) * 4 + c]) best = b;
                    ref[(a * 3 + best) * 4 + c] = 1;
                }
        } else { /* over the 12 trailing elements of each row */
            for (int a = 0; a < 2; a++) {
                int best = 0;
                for (int j = 1; j < 12; j++)
                    if (X[a * 12 + j] > X[a * 12 + best]) best = j;
                ref[a * 12 + best] = 1;
            }
        }
        cr_assert_arr_eq(out[0].data, ref, sizeof ref, "opset %d", opset);
        kn_tensor_release(&out[0]);
        kn_graph_free(g);
    }
    kn_tensor_release(&x);
}

/* ---- OneHot ---- */

Test(one_hot, axes_negative_indices_and_float_indices)
{
    const int64_t is[2] = {2, 2}, iv[4] = {0, -1, 2, 7}, one[1] = {1};
    kn_tensor idx = ints(KN_INT64, 2, is, iv), depth = ints(KN_INT64, 0, one, (int64_t[]){3}),
              vals = ints(KN_INT32, 1, (int64_t[]){2}, (int64_t[]){-2, 5});
    for (int opset = 9; opset <= 11; opset += 2)
        for (int axis = -3; axis <= 2; axis++) {
            kn_tensor *in[3] = {&idx, &depth, &vals};
            kn_graph *g;
            int node = node_of(&g, "OneHot", 3, in, 1, opset);
            T_OK(kn_node_set_int(g, node, "axis", axis));
            kn_tensor out[1] = {{0}}, state[KN_OP_MAX_STATE] = {0};
            T_OK(t_run_node(g, node, in, out, state, false));
            const int a = axis < 0 ? axis + 3 : axis;
            cr_assert(out[0].dtype == KN_INT32 && out[0].ndim == 3 && out[0].shape[a] == 3);
            const int32_t *Y = out[0].data;
            for (int p = 0; p < 2; p++)
                for (int q = 0; q < 2; q++)
                    for (int d = 0; d < 3; d++) {
                        int64_t v = iv[p * 2 + q];
                        if (v < 0 && opset >= 11) v += 3;
                        int c[3], k = 0;
                        int pq[2] = {p, q};
                        for (int j = 0; j < 3; j++) c[j] = j == a ? d : pq[k++];
                        int32_t got = Y[(c[0] * out[0].shape[1] + c[1]) * out[0].shape[2] + c[2]];
                        cr_assert_eq(got, v == d ? 5 : -2, "opset %d axis %d at %d,%d,%d", opset, axis, p, q, d);
                    }
            kn_tensor_release(&out[0]);
            kn_graph_free(g);
        }
    /* float indices truncate */
    kn_tensor fi = t_new(1, 3);
    const float fv[3] = {0.7f, 2.2f, 1.0f};
    memcpy(fi.data, fv, sizeof fv);
    kn_tensor *in[3] = {&fi, &depth, &vals};
    kn_graph *g;
    int node = node_of(&g, "OneHot", 3, in, 1, 11);
    kn_tensor out[1] = {{0}}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, out, state, false));
    const int32_t want[9] = {5, -2, -2, -2, -2, 5, -2, 5, -2};
    cr_assert_arr_eq(out[0].data, want, sizeof want);
    kn_tensor_release(&out[0]);
    kn_graph_free(g);
    kn_tensor_release(&fi); kn_tensor_release(&idx); kn_tensor_release(&depth); kn_tensor_release(&vals);
}

/* ---- PRelu before opset 7: shared or per-channel slope ---- */

Test(prelu_legacy, shared_and_per_channel_slope_with_gradient)
{
    kn_tensor x = t_new_rand(5, -1, 1, 3, 2, 3, 4);
    for (int per_channel = 0; per_channel < 2; per_channel++) {
        kn_tensor sl = per_channel ? t_new_rand(6, 0.1f, 0.9f, 1, 3) : t_new_rand(6, 0.1f, 0.9f, 1, 1), *in[2] = {&x, &sl};
        kn_graph *g;
        int node = node_of(&g, "PRelu", 2, in, 1, 6);
        kn_tensor out[1] = {{0}}, state[KN_OP_MAX_STATE] = {0};
        T_OK(t_run_node(g, node, in, out, state, false));
        cr_assert(out[0].ndim == 3 && out[0].shape[2] == 4);
        const float *X = x.data, *S = sl.data, *Y = out[0].data;
        for (int i = 0; i < 24; i++) {
            float s = S[per_channel ? i / 4 % 3 : 0];
            cr_assert_float_eq(Y[i], X[i] >= 0 ? X[i] : X[i] * s, 1e-7, "element %d", i);
        }
        t_gradcheck(g, node, in, 3, true, 1e-3f, 1e-2, 1e-3);
        kn_tensor_release(&out[0]);
        kn_tensor_release(&sl);
        kn_graph_free(g);
    }
    kn_tensor_release(&x);
}

/* ---- GatherND / ScatterND ---- */

Test(gather_nd, batch_dims_slices_gradient_and_range)
{
    /* data [2, 3, 4, 2], batch_dims 1, indices [2, 2, 2] pick (d1, d2) pairs: output [2, 2, 2] */
    kn_tensor x = t_new_rand(7, -1, 1, 4, 2, 3, 4, 2);
    const int64_t is[3] = {2, 2, 2}, iv[8] = {0, 3, 2, -1, 1, 1, -3, 0};
    kn_tensor idx = ints(KN_INT64, 3, is, iv), *in[2] = {&x, &idx};
    kn_graph *g;
    int node = node_of(&g, "GatherND", 2, in, 1, 13);
    T_OK(kn_node_set_int(g, node, "batch_dims", 1));
    kn_tensor out[1] = {{0}}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, out, state, false));
    cr_assert(out[0].ndim == 3 && out[0].shape[0] == 2 && out[0].shape[1] == 2 && out[0].shape[2] == 2);
    const float *X = x.data, *Y = out[0].data;
    for (int b = 0; b < 2; b++)
        for (int t = 0; t < 2; t++) {
            int64_t i1 = iv[(b * 2 + t) * 2], i2 = iv[(b * 2 + t) * 2 + 1];
            i1 = i1 < 0 ? i1 + 3 : i1;
            i2 = i2 < 0 ? i2 + 4 : i2;
            for (int s = 0; s < 2; s++)
                cr_assert_float_eq(Y[(b * 2 + t) * 2 + s], X[((b * 3 + i1) * 4 + i2) * 2 + s], 0, "b %d t %d", b, t);
        }
    t_gradcheck(g, node, in, 1, true, 1e-2f, 1e-3, 1e-4);
    kn_tensor_release(&out[0]);
    ((int64_t *)idx.data)[2] = 3; /* dim 1 has size 3 */
    expect_error(g, node, in, "out of range");
    kn_graph_free(g);
    kn_tensor_release(&idx);
    kn_tensor_release(&x);
}

Test(scatter_nd, rows_with_add_duplicates_and_range)
{
    kn_tensor x = t_new_rand(8, -1, 1, 3, 3, 2, 2), u = t_new_rand(9, -1, 1, 3, 3, 2, 2);
    const int64_t is[2] = {3, 1}, iv[3] = {2, -1, 0};
    kn_tensor idx = ints(KN_INT64, 2, is, iv), *in[3] = {&x, &idx, &u};
    for (int add = 0; add < 2; add++) {
        kn_graph *g;
        int node = node_of(&g, "ScatterND", 3, in, 1, 16);
        if (add) T_OK(kn_node_set_string(g, node, "reduction", "add"));
        kn_tensor out[1] = {{0}}, state[KN_OP_MAX_STATE] = {0};
        T_OK(t_run_node(g, node, in, out, state, false));
        float ref[12];
        memcpy(ref, x.data, sizeof ref);
        const float *U = u.data;
        for (int t = 0; t < 3; t++) {
            int64_t r = iv[t] < 0 ? iv[t] + 3 : iv[t];
            for (int s = 0; s < 4; s++) ref[r * 4 + s] = add ? ref[r * 4 + s] + U[t * 4 + s] : U[t * 4 + s];
        }
        T_ASSERT_CLOSE(out[0].data, ref, 12, 1e-6, 1e-7);
        kn_tensor_release(&out[0]);
        if (add) {
            ((int64_t *)idx.data)[1] = -4;
            expect_error(g, node, in, "out of range");
        }
        kn_graph_free(g);
    }
    kn_tensor_release(&idx); kn_tensor_release(&x); kn_tensor_release(&u);
}

/* ---- Resize / Upsample ---- */

/* Linear sample of row v (length n) at half-pixel source coordinate of output o. */
static double lerp_half_pixel(const float *v, int64_t stride, int64_t n, int64_t o, double scale)
{
    double x = (o + 0.5) / scale - 0.5;
    if (x < 0) x = 0;
    if (x > n - 1) x = (double)(n - 1);
    int64_t i = (int64_t)x;
    double t = x - (double)i;
    return i + 1 < n ? v[i * stride] * (1 - t) + v[(i + 1) * stride] * t : v[i * stride];
}

Test(resize, linear_half_pixel_sizes_against_separable_reference)
{
    kn_tensor x = t_new_rand(10, -1, 1, 4, 1, 2, 3, 4), roi = t_new(1, 0), sc = t_new(1, 0);
    const int64_t ss[1] = {4}, sv[4] = {1, 2, 5, 7};
    kn_tensor sizes = ints(KN_INT64, 1, ss, sv), *in[4] = {&x, &roi, &sc, &sizes};
    kn_graph *g;
    int node = node_of(&g, "Resize", 4, in, 1, 13);
    T_OK(kn_node_set_string(g, node, "mode", "linear"));
    kn_tensor out[1] = {{0}}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, out, state, false));
    cr_assert(out[0].ndim == 4 && out[0].shape[2] == 5 && out[0].shape[3] == 7);
    const float *X = x.data;
    float ref[2 * 5 * 7], tmp[3 * 7];
    for (int c = 0; c < 2; c++) {
        for (int h = 0; h < 3; h++) /* along w first, then h */
            for (int w = 0; w < 7; w++) tmp[h * 7 + w] = (float)lerp_half_pixel(X + (c * 3 + h) * 4, 1, 4, w, 7.0 / 4);
        for (int h = 0; h < 5; h++)
            for (int w = 0; w < 7; w++) ref[(c * 5 + h) * 7 + w] = (float)lerp_half_pixel(tmp + w, 7, 3, h, 5.0 / 3);
    }
    T_ASSERT_CLOSE(out[0].data, ref, 70, 1e-5, 1e-6);
    kn_tensor_release(&out[0]);
    T_OK(kn_node_set_string(g, node, "coordinate_transformation_mode", "tf_crop_and_resize"));
    expect_error(g, node, in, "tf_crop_and_resize");
    kn_graph_free(g);
    kn_tensor_release(&x); kn_tensor_release(&roi); kn_tensor_release(&sc); kn_tensor_release(&sizes);
}

Test(resize, nearest_modes_on_integers_and_upsample7)
{
    const int64_t xs[2] = {1, 3}, xv[3] = {10, 20, 30};
    kn_tensor x = ints(KN_INT32, 2, xs, xv), sc = t_new(1, 2);
    ((float *)sc.data)[0] = 1;
    ((float *)sc.data)[1] = 2;
    const struct { const char *coord, *nearest; int32_t want[6]; } cases[] = {
        /* asymmetric: source o / 2 = 0, .5, 1, 1.5, 2, 2.5 */
        {"asymmetric", "round_prefer_ceil", {10, 20, 20, 30, 30, 30}},
        {"asymmetric", "round_prefer_floor", {10, 10, 20, 20, 30, 30}},
        {"asymmetric", "ceil", {10, 20, 20, 30, 30, 30}},
        /* half_pixel: source -.25, .25, .75, 1.25, 1.75, 2.25 */
        {"half_pixel", "floor", {10, 10, 10, 20, 20, 30}},
        {"align_corners", "round_prefer_floor", {10, 10, 20, 20, 30, 30}}, /* o * 2 / 5 */
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        kn_tensor *in[3] = {&x, NULL, &sc};
        kn_graph *g;
        kn_tensor meta[3] = {x, sc, sc};
        int node = t_single_node_graph(&g, "Resize", 3, meta, 1);
        g->opset = 13;
        T_OK(kn_node_set_string(g, node, "coordinate_transformation_mode", cases[k].coord));
        T_OK(kn_node_set_string(g, node, "nearest_mode", cases[k].nearest));
        kn_tensor out[1] = {{0}}, state[KN_OP_MAX_STATE] = {0};
        T_OK(t_run_node(g, node, in, out, state, false));
        cr_assert(out[0].dtype == KN_INT32 && out[0].shape[1] == 6);
        cr_assert_arr_eq(out[0].data, cases[k].want, sizeof cases[k].want, "%s / %s", cases[k].coord, cases[k].nearest);
        kn_tensor_release(&out[0]);
        kn_graph_free(g);
    }
    /* Upsample-7: scales attribute, floor of o / scale */
    kn_tensor *in[1] = {&x};
    kn_graph *g;
    int node = node_of(&g, "Upsample", 1, in, 1, 7);
    T_OK(kn_node_set_floats(g, node, "scales", 2, (float[]){2, 2}));
    kn_tensor out[1] = {{0}}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, out, state, false));
    const int32_t want[12] = {10, 10, 20, 20, 30, 30, 10, 10, 20, 20, 30, 30};
    cr_assert(out[0].shape[0] == 2 && out[0].shape[1] == 6);
    cr_assert_arr_eq(out[0].data, want, sizeof want);
    kn_tensor_release(&out[0]);
    kn_graph_free(g);
    kn_tensor_release(&x); kn_tensor_release(&sc);
}
