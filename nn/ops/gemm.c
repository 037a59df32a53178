/* Gemm (ONNX): Y = alpha * op(A) op(B) + beta * C, C broadcast to [M, N].
 * kiln.FusedGemm: the same plus an activation epilogue (attributes
 * `activation` = Relu|LeakyRelu|Clip|Sigmoid|HardSwish|Tanh, `activation_alpha`,
 * `activation_beta`), produced by the level-2 optimizer. */
#include "nn/op.h"

#include <string.h>

typedef struct gemm_attrs {
    float alpha, beta;
    int64_t trans_a, trans_b;
} gemm_attrs;

static kn_status read_attrs(const kn_node *n, gemm_attrs *a)
{
    KN_TRY(kn_attr_float(n, "alpha", 1.0f, &a->alpha));
    KN_TRY(kn_attr_float(n, "beta", 1.0f, &a->beta));
    KN_TRY(kn_attr_int(n, "transA", 0, &a->trans_a));
    KN_TRY(kn_attr_int(n, "transB", 0, &a->trans_b));
    return KN_OK;
}

/* Parse a fused activation (shared with the conv op and the fusion pass). */
kn_status kn_fused_activation(const kn_node *n, kn_act *act, float *alpha, float *beta)
{
    const char *name;
    KN_TRY(kn_attr_string(n, "activation", "", &name));
    *alpha = 0.0f;
    *beta = 0.0f;
    if (!*name) { *act = KN_ACT_NONE; return KN_OK; }
    const kn_attr *params = kn_node_attr(n, "activation_params");
    float p[2] = {0, 0};
    if (params && params->type == KN_ATTR_FLOATS)
        for (int i = 0; i < params->n && i < 2; i++) p[i] = params->floats[i];
    if (!strcmp(name, "Relu")) *act = KN_ACT_RELU;
    else if (!strcmp(name, "LeakyRelu")) { *act = KN_ACT_LEAKY_RELU; *alpha = params ? p[0] : 0.01f; }
    else if (!strcmp(name, "Clip")) { *act = KN_ACT_CLIP; *alpha = p[0]; *beta = p[1]; }
    else if (!strcmp(name, "Sigmoid")) *act = KN_ACT_SIGMOID;
    else if (!strcmp(name, "HardSwish")) *act = KN_ACT_HARDSWISH;
    else if (!strcmp(name, "Tanh")) *act = KN_ACT_TANH;
    else return kn_node_error(n, KN_ERR_UNSUPPORTED, "fused activation '%s' is not supported", name);
    return KN_OK;
}

static kn_status gemm_infer(kn_op_ctx *c)
{
    gemm_attrs at;
    KN_TRY(read_attrs(c->node, &at));
    const kn_tensor *a = c->in[0], *b = c->in[1], *cc = KN_IN(c, 2);
    char sa[160], sb[160];
    if (a->dtype != KN_FLOAT || b->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "Gemm on %s x %s: only float is supported",
                             kn_dtype_name(a->dtype), kn_dtype_name(b->dtype));
    if (a->ndim != 2 || b->ndim != 2)
        return kn_node_error(c->node, KN_ERR_SHAPE, "A %s and B %s must both be 2-D",
                             kn_shape_str(sa, sizeof sa, a->ndim, a->shape), kn_shape_str(sb, sizeof sb, b->ndim, b->shape));
    int64_t m = at.trans_a ? a->shape[1] : a->shape[0], ka = at.trans_a ? a->shape[0] : a->shape[1];
    int64_t kb = at.trans_b ? b->shape[1] : b->shape[0], n = at.trans_b ? b->shape[0] : b->shape[1];
    if (ka != kb && ka != KN_DIM_UNKNOWN && kb != KN_DIM_UNKNOWN)
        return kn_node_error(c->node, KN_ERR_SHAPE, "inner dims differ: A %s (transA=%lld) and B %s (transB=%lld)",
                             kn_shape_str(sa, sizeof sa, a->ndim, a->shape), (long long)at.trans_a,
                             kn_shape_str(sb, sizeof sb, b->ndim, b->shape), (long long)at.trans_b);
    int64_t y[2] = {m, n};
    if (cc) {
        int nd;
        int64_t bs[KN_MAX_DIMS];
        if (cc->ndim > 2) return kn_node_error(c->node, KN_ERR_SHAPE, "C must have rank <= 2");
        KN_TRY(kn_op_broadcast(c, 2, y, cc->ndim, cc->shape, &nd, bs));
        if ((bs[0] != m && m != KN_DIM_UNKNOWN) || (bs[1] != n && n != KN_DIM_UNKNOWN))
            return kn_node_error(c->node, KN_ERR_SHAPE, "C %s does not broadcast to [M, N]",
                                 kn_shape_str(sa, sizeof sa, cc->ndim, cc->shape));
    }
    kn_op_set_out(c, 0, KN_FLOAT, 2, y);
    return KN_OK;
}

/* Below this many rows of A OpenBLAS (its GEMV-like path) is faster: the MLP at batch 1
 * took 5.3 us with the packed kernel (even with four partial sums per row over k) against
 * 3.9 us (kiln bench, 2026-11-27 15:53). The packed copy is still made, once. */
#define PACKED_MIN_M 4

/* B packed for the backend's packed kernel, in state[0], when the session allows it
 * (inference at level 2), the backend has one, A is not transposed and B is a constant
 * of the graph. Packed on the first run (warm-up), reused after; NULL otherwise. */
static kn_status packed_b(kn_op_ctx *c, const gemm_attrs *at, int64_t k, int64_t n, const float **out)
{
    *out = NULL;
    const int bid = c->node->inputs[1];
    if (!c->prepack || !c->k->gemm_packed || at->trans_a || k <= 0 || n <= 0 || bid < 0) return KN_OK;
    const kn_value_kind kind = c->graph->values[bid].kind;
    if (kind != KN_VALUE_PARAM && kind != KN_VALUE_CONST) return KN_OK;
    kn_tensor *st = &c->state[0];
    const int64_t floats = c->k->gemm_packed_floats(k, n);
    bool fresh;
    KN_TRY(kn_tensor_ensure_on(st, KN_FLOAT, 1, &floats, c->device, &fresh));
    kn_status s = fresh ? c->k->gemm_pack_b(at->trans_b, k, n, c->in[1]->data, c->in[1]->shape[1], st->data) : KN_OK;
    if (s != KN_OK) {
        kn_tensor_release(st); /* a half-packed copy must not be reused */
        return s;
    }
    *out = st->data;
    return KN_OK;
}

/* beta as a one-element tensor in state[1] on the node's device: the binary kernels
 * read both operands where they run, so a host float would be a bad device pointer. */
static kn_status beta_operand(kn_op_ctx *c, float beta, const float **out)
{
    kn_tensor *t = &c->state[1];
    const int64_t one = 1;
    bool fresh;
    KN_TRY(kn_tensor_ensure_on(t, KN_FLOAT, 1, &one, c->device, &fresh));
    if (c->device == KN_CPU) *(float *)t->data = beta;
    else if (fresh) KN_TRY(KN_KCALL(c->k, memcpy_h2d, t->data, &beta, sizeof beta));
    *out = t->data;
    return KN_OK;
}

static kn_status gemm_run(kn_op_ctx *c, kn_act act, float act_alpha, float act_beta)
{
    gemm_attrs at;
    KN_TRY(read_attrs(c->node, &at));
    const kn_tensor *a = c->in[0], *b = c->in[1], *cc = KN_IN(c, 2);
    kn_tensor *y = c->out[0];
    int64_t m = y->shape[0], n = y->shape[1], k = at.trans_a ? a->shape[0] : a->shape[1];
    kn_epilogue ep = {.act = act, .alpha = act_alpha, .beta = act_beta};
    float beta = 0.0f;
    if (cc && at.beta != 0.0f) {
        int64_t cn = kn_tensor_numel(cc);
        bool per_col = cc->ndim >= 1 && cc->shape[cc->ndim - 1] == n && cn == n;
        if (per_col && at.beta == 1.0f) {
            ep.bias = cc->data;
        } else { /* general C: Y = beta * broadcast(C), then GEMM accumulates onto it */
            int64_t full[2] = {m, n};
            int64_t cs[2] = {cc->ndim == 2 ? cc->shape[0] : 1, cc->ndim >= 1 ? cc->shape[cc->ndim - 1] : 1};
            const float *bv;
            KN_TRY(beta_operand(c, at.beta, &bv));
            kn_bcast bc; /* operand a = C (broadcast), operand b = the scalar beta */
            KN_TRY(kn_bcast_init(&bc, 2, cs, 2, full));
            for (int d = 0; d < 2; d++) bc.bstride[d] = 0;
            KN_TRY(KN_KCALL(c->k, binary, KN_BIN_MUL, KN_FLOAT, &bc, cc->data, bv, y->data));
            beta = 1.0f;
        }
    }
    const float *packed;
    KN_TRY(packed_b(c, &at, k, n, &packed));
    if (packed && m >= PACKED_MIN_M)
        return c->k->gemm_packed(m, n, k, at.alpha, a->data, a->shape[1], packed, beta, y->data, n, &ep);
    return KN_KCALL(c->k, gemm, at.trans_a, at.trans_b, m, n, k, at.alpha, a->data, a->shape[1], b->data,
                    b->shape[1], beta, y->data, n, &ep);
}

static kn_status gemm_forward(kn_op_ctx *c) { return gemm_run(c, KN_ACT_NONE, 0, 0); }

static kn_status fused_gemm_forward(kn_op_ctx *c)
{
    kn_act act;
    float al, be;
    KN_TRY(kn_fused_activation(c->node, &act, &al, &be));
    return gemm_run(c, act, al, be);
}

static kn_status gemm_backward(kn_op_ctx *c)
{
    gemm_attrs at;
    KN_TRY(read_attrs(c->node, &at));
    const kn_tensor *a = c->in[0], *b = c->in[1], *cc = KN_IN(c, 2), *gy = c->gout[0];
    if (!gy) return KN_OK;
    int64_t m = gy->shape[0], n = gy->shape[1], k = at.trans_a ? a->shape[0] : a->shape[1];
    const float *G = gy->data, *A = a->data, *B = b->data;
    int64_t lda = a->shape[1], ldb = b->shape[1];
    /* accumulate (beta 1) into a gradient other nodes add to; overwrite (beta 0) a fresh one */
    const float acc0 = c->gin_fresh && c->gin_fresh[0] ? 0.0f : 1.0f, acc1 = c->gin_fresh && c->gin_fresh[1] ? 0.0f : 1.0f;
    if (c->gin[0]) { /* dA */
        float *gA = c->gin[0]->data;
        if (!at.trans_a) /* gA[M,K] += alpha * G[M,N] op(B)^T */
            KN_TRY(KN_KCALL(c->k, gemm, false, !at.trans_b, m, k, n, at.alpha, G, n, B, ldb, acc0, gA, k, NULL));
        else /* gA[K,M] += alpha * op(B)[K,N] G^T */
            KN_TRY(KN_KCALL(c->k, gemm, at.trans_b, true, k, m, n, at.alpha, B, ldb, G, n, acc0, gA, m, NULL));
    }
    if (c->gin[1]) { /* dB */
        float *gB = c->gin[1]->data;
        if (!at.trans_b) /* gB[K,N] += alpha * op(A)^T G */
            KN_TRY(KN_KCALL(c->k, gemm, !at.trans_a, false, k, n, m, at.alpha, A, lda, G, n, acc1, gB, n, NULL));
        else /* gB[N,K] += alpha * G^T op(A) */
            KN_TRY(KN_KCALL(c->k, gemm, true, at.trans_a, n, k, m, at.alpha, G, n, A, lda, acc1, gB, k, NULL));
    }
    if (cc && c->gin[2] && c->gin_fresh && c->gin_fresh[2]) /* small: zero it, then add the reduction */
        KN_TRY(c->k->memset0(c->gin[2]->data, kn_tensor_bytes(c->gin[2])));
    if (cc && c->gin[2]) { /* dC = beta * G reduced over C's broadcast dims */
        int64_t cs[2] = {cc->ndim == 2 ? cc->shape[0] : 1, cc->ndim >= 1 ? cc->shape[cc->ndim - 1] : 1};
        int64_t full[2] = {m, n};
        kn_bcast bc;
        KN_TRY(kn_bcast_init(&bc, 2, full, 2, cs));
        /* MUL backward with a = the scalar beta (stride 0) gives gC += beta * G, reduced. */
        const float *bv;
        KN_TRY(beta_operand(c, at.beta, &bv));
        for (int d = 0; d < 2; d++) bc.astride[d] = 0;
        KN_TRY(KN_KCALL(c->k, binary_bwd, KN_BIN_MUL, &bc, bv, cc->data, G, NULL, c->gin[2]->data));
    }
    return KN_OK;
}

const kn_op_def kn_op_gemm = {
    .name = "Gemm", .domain = "", .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .flags = KN_OP_BWD_OVERWRITE, .infer = gemm_infer, .forward = gemm_forward, .backward = gemm_backward,
};

const kn_op_def kn_op_fused_gemm = {
    .name = "FusedGemm", .domain = "kiln", .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = gemm_infer, .forward = fused_gemm_forward,
};
