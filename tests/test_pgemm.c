/* The packed-weights inference GEMM (core/cpu/pgemm.c) against a plain double-precision
 * reference: every row-block and panel width, both B layouts, alpha/beta, bias per row
 * and per column, residual, each activation and NaN handling; and Gemm nodes in level-2
 * sessions (which pack constant weights on the first run) against level 0. */
#include "helpers.h"
#include "core/cpu/cpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) & 0xFFFF) / 32768.0f - 1.0f;
}

/* y = act(alpha * A op(B) + beta * y + bias + residual), in double */
static void ref(int64_t m, int64_t n, int64_t k, float alpha, const float *a, bool tb, const float *b, float beta,
                const float *y0, const kn_epilogue *ep, float *y)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++) s += (double)a[i * k + p] * (tb ? b[j * k + p] : b[p * n + j]);
            double v = alpha * s + (beta != 0.0f ? beta * (double)y0[i * n + j] : 0.0);
            if (ep && ep->bias) v += ep->bias_per_row ? ep->bias[i] : ep->bias[j];
            if (ep && ep->residual) v += ep->residual[i * n + j];
            y[i * n + j] = ep ? kn_act_apply(ep->act, ep->alpha, ep->beta, (float)v) : (float)v;
        }
}

/* One case; returns false (after reporting) when the kernel is not available. */
static bool check(int64_t m, int64_t n, int64_t k, bool tb, float alpha, float beta, const kn_epilogue *ep_in,
                  uint64_t seed)
{
    if (!kn_cpu_gemm_packed_available()) return false;
    float *a = malloc(sizeof(float) * (size_t)(m * k)), *b = malloc(sizeof(float) * (size_t)(k * n));
    float *y = malloc(sizeof(float) * (size_t)(m * n)), *y0 = malloc(sizeof(float) * (size_t)(m * n));
    float *want = malloc(sizeof(float) * (size_t)(m * n)), *bias = malloc(sizeof(float) * (size_t)(m > n ? m : n));
    float *res = malloc(sizeof(float) * (size_t)(m * n));
    float *pk = malloc(sizeof(float) * (size_t)kn_cpu_gemm_packed_floats(k, n));
    cr_assert(a && b && y && y0 && want && bias && res && pk);
    for (int64_t i = 0; i < m * k; i++) a[i] = frand(&seed);
    for (int64_t i = 0; i < k * n; i++) b[i] = frand(&seed);
    for (int64_t i = 0; i < m * n; i++) y0[i] = frand(&seed), res[i] = frand(&seed);
    for (int64_t i = 0; i < (m > n ? m : n); i++) bias[i] = frand(&seed);
    kn_epilogue ep = {0};
    if (ep_in) {
        ep = *ep_in;
        if (ep.bias) ep.bias = bias;
        if (ep.residual) ep.residual = res;
    }
    memcpy(y, y0, sizeof(float) * (size_t)(m * n));
    T_OK(kn_cpu_gemm_pack_b(tb, k, n, b, tb ? k : n, pk));
    T_OK(kn_cpu_gemm_packed(m, n, k, alpha, a, k, pk, beta, y, n, ep_in ? &ep : NULL));
    ref(m, n, k, alpha, a, tb, b, beta, y0, ep_in ? &ep : NULL, want);
    for (int64_t i = 0; i < m * n; i++) {
        const bool both_nan = isnan(y[i]) && isnan(want[i]);
        cr_assert(both_nan || fabsf(y[i] - want[i]) <= 1e-4f + 1e-4f * fabsf(want[i]),
                  "m=%lld n=%lld k=%lld tb=%d: y[%lld] = %g, want %g", (long long)m, (long long)n, (long long)k, tb,
                  (long long)i, y[i], want[i]);
    }
    free(a); free(b); free(y); free(y0); free(want); free(bias); free(res); free(pk);
    return true;
}

#define NEED_KERNEL()                                                                                      \
    do {                                                                                                   \
        if (!kn_cpu_gemm_packed_available()) cr_skip_test("packed GEMM needs an AVX-512 build (this one has none)"); \
    } while (0)

Test(pgemm, every_row_block_and_panel_width)
{
    NEED_KERNEL();
    const int64_t ms[] = {1, 2, 5, 13, 14, 15, 27, 29, 64}, ns[] = {1, 10, 16, 17, 31, 32, 33, 48, 50, 64, 130};
    uint64_t seed = 1;
    for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
        for (size_t j = 0; j < sizeof ns / sizeof *ns; j++)
            for (int tb = 0; tb < 2; tb++) check(ms[i], ns[j], 7, tb, 1.0f, 0.0f, NULL, seed++);
}

Test(pgemm, long_k_and_threaded_sizes)
{
    NEED_KERNEL();
    /* the MLP's layers at batch 64 (these fork across threads) and one odd shape */
    check(64, 128, 784, true, 1.0f, 0.0f, NULL, 11);
    check(64, 64, 128, false, 1.0f, 0.0f, NULL, 12);
    check(70, 100, 300, true, 1.0f, 0.0f, NULL, 13);
}

Test(pgemm, alpha_beta_bias_residual)
{
    NEED_KERNEL();
    kn_epilogue col = {.bias = (const float *)1, .act = KN_ACT_NONE};
    kn_epilogue row = {.bias = (const float *)1, .bias_per_row = true, .residual = (const float *)1};
    check(9, 40, 12, false, 0.5f, 0.0f, &col, 21);
    check(9, 40, 12, true, 1.0f, 1.0f, &col, 22);
    check(17, 20, 5, false, 2.0f, -0.5f, &row, 23);
    check(3, 33, 4, true, 1.0f, 1.0f, &row, 24);
}

Test(pgemm, every_activation)
{
    NEED_KERNEL();
    const kn_act acts[] = {KN_ACT_RELU, KN_ACT_CLIP, KN_ACT_LEAKY_RELU, KN_ACT_SIGMOID, KN_ACT_HARDSWISH, KN_ACT_TANH};
    for (size_t i = 0; i < sizeof acts / sizeof *acts; i++) {
        kn_epilogue ep = {.bias = (const float *)1, .act = acts[i], .alpha = -0.3f, .beta = 0.4f};
        if (acts[i] == KN_ACT_LEAKY_RELU) ep.alpha = 0.1f;
        check(15, 45, 9, true, 1.0f, 0.0f, &ep, 31 + i);
        ep.residual = (const float *)1;
        check(4, 16, 3, false, 1.0f, 0.0f, &ep, 41 + i);
    }
}

Test(pgemm, nan_through_relu_and_clip_as_the_epilogue_does)
{
    NEED_KERNEL();
    float a[2] = {NAN, 1.0f}, b[1] = {1.0f}, pk[64], y[2];
    T_OK(kn_cpu_gemm_pack_b(false, 1, 1, b, 1, pk));
    kn_epilogue relu = {.act = KN_ACT_RELU}, clip = {.act = KN_ACT_CLIP, .alpha = 0.0f, .beta = 6.0f};
    T_OK(kn_cpu_gemm_packed(2, 1, 1, 1.0f, a, 1, pk, 0.0f, y, 1, &relu));
    cr_assert_eq(y[0], kn_act_apply(KN_ACT_RELU, 0, 0, NAN));
    cr_assert_eq(y[1], 1.0f);
    T_OK(kn_cpu_gemm_packed(2, 1, 1, 1.0f, a, 1, pk, 0.0f, y, 1, &clip));
    cr_assert(isnan(y[0]) == isnan(kn_act_apply(KN_ACT_CLIP, 0.0f, 6.0f, NAN)));
}

Test(pgemm, bad_dims_are_errors)
{
    NEED_KERNEL();
    float pk[16] = {0}, y[1];
    cr_assert_eq(kn_cpu_gemm_pack_b(false, 0, 4, pk, 4, pk), KN_ERR_SHAPE);
    cr_assert_eq(kn_cpu_gemm_packed(1, 0, 1, 1.0f, pk, 1, pk, 0.0f, y, 1, NULL), KN_ERR_SHAPE);
}

/* x[-1, K] -> Gemm(W const, transB tb, bias) -> act: level 2 (packed) equals level 0 at
 * every batch, including batches below the packed kernel's minimum and back. */
static void session_case(int64_t kdim, int64_t ndim, bool tb, const char *act)
{
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    int x = kn_input(g, "x", KN_FLOAT, 2, (int64_t[]){KN_DIM_UNKNOWN, kdim});
    kn_tensor w = tb ? t_new_rand(5, -1, 1, 2, ndim, kdim) : t_new_rand(5, -1, 1, 2, kdim, ndim);
    kn_tensor bias = t_new_rand(6, -1, 1, 1, ndim);
    int wid, bid;
    T_OK(kn_graph_add_initializer(g, "w", &w, KN_VALUE_PARAM, &wid));
    T_OK(kn_graph_add_initializer(g, "b", &bias, KN_VALUE_CONST, &bid));
    int node, y = kn_node1(g, "Gemm", 3, (int[]){x, wid, bid}, &node);
    T_OK(kn_node_set_int(g, node, "transB", tb));
    y = kn_node_done(g, y);
    if (act) y = kn_node_done(g, kn_node1(g, act, 1, (int[]){y}, NULL));
    kn_output(g, y);
    T_OK(kn_graph_status(g));
    kn_session *s0, *s2;
    t_session_pair(g, 2, NULL, &s0, &s2);
    const int64_t batches[] = {64, 1, 3, 4, 29, 64};
    for (size_t i = 0; i < sizeof batches / sizeof *batches; i++) {
        kn_tensor in = t_new_rand(100 + i, -1, 1, 2, batches[i], kdim);
        t_compare_runs(s0, s2, &in, 1e-4, 1e-5);
        kn_tensor_release(&in);
    }
    kn_session_free(s0);
    kn_session_free(s2);
    kn_graph_free(g);
}

Test(pgemm, level2_sessions_match_level0)
{
    session_case(784, 128, true, "Relu");
    session_case(100, 10, true, NULL);
    session_case(37, 50, false, "Sigmoid");
}

/* Weights fed as graph inputs are never packed: a level-2 session follows new weights on
 * every run (Gemm and Conv), matching level 0. */
Test(pgemm, weights_from_graph_inputs_are_not_cached)
{
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    int x = kn_input(g, "x", KN_FLOAT, 4, (int64_t[]){KN_DIM_UNKNOWN, 16, 10, 10});
    int w = kn_input(g, "w", KN_FLOAT, 4, (int64_t[]){16, 16, 3, 3});
    int b = kn_input(g, "b", KN_FLOAT, 2, (int64_t[]){1600, 32});
    int node, y = kn_node1(g, "Conv", 2, (int[]){x, w}, &node);
    T_OK(kn_node_set_ints(g, node, "pads", 4, (int64_t[]){1, 1, 1, 1}));
    y = kn_node_done(g, y);
    y = kn_node_done(g, kn_node1(g, "Flatten", 1, (int[]){y}, NULL));
    y = kn_node_done(g, kn_node1(g, "Gemm", 2, (int[]){y, b}, NULL));
    kn_output(g, y);
    T_OK(kn_graph_status(g));
    kn_session *s0, *s2;
    t_session_pair(g, 2, NULL, &s0, &s2);
    kn_tensor in = t_new_rand(1, -1, 1, 4, 8, 16, 10, 10);
    float first = 0.0f;
    for (int r = 0; r < 2; r++) {
        kn_tensor wt = t_new_rand(10 + r, -1, 1, 4, 16, 16, 3, 3), bt = t_new_rand(20 + r, -1, 1, 2, 1600, 32);
        const kn_tensor *ins[3] = {&in, &wt, &bt};
        T_OK(kn_session_run(s0, ins, 3));
        T_OK(kn_session_run(s2, ins, 3));
        const kn_tensor *a = kn_session_output(s0, 0), *o2 = kn_session_output(s2, 0);
        T_ASSERT_CLOSE(o2->data, a->data, kn_tensor_numel(a), 1e-4, 1e-4);
        if (r == 0) first = ((const float *)o2->data)[0];
        else cr_assert_neq(((const float *)o2->data)[0], first, "the second run's weights were not used");
        kn_tensor_release(&wt);
        kn_tensor_release(&bt);
    }
    kn_tensor_release(&in);
    kn_session_free(s0);
    kn_session_free(s2);
    kn_graph_free(g);
}
