/* MatMul (ONNX, numpy semantics): A [..., M, K] x B [..., K, N] -> [..., M, N].
 * A 1-D A is [1, K] and a 1-D B is [K, 1], the added dim dropped from the
 * output; batch dims broadcast. Float32, through the gemm kernel: one GEMM
 * when B has no batch dims (A's batch folds into M), else one per output
 * batch matrix. Backward accumulates with beta = 1 GEMMs, which also sums
 * over the batch dims an input was broadcast along. */
#include "nn/ops/host_scalar.h"

#include <string.h>

typedef struct mm_geom {
    int64_t m, n, k;
    int nbd;                    /* output batch rank */
    int64_t batch;              /* output batch matrices */
    int64_t bshape[KN_MAX_DIMS];
    int64_t astride[KN_MAX_DIMS], bstride[KN_MAX_DIMS]; /* in matrices, 0 on broadcast dims */
    bool b_unbatched;           /* B has no batch dims: fold A's batch into M */
} mm_geom;

static kn_status mm_shapes(const kn_op_ctx *c, const kn_tensor *a, const kn_tensor *b, int64_t *m, int64_t *n,
                           int64_t *k)
{
    char sa[160], sb[160];
    if (a->ndim < 1 || b->ndim < 1)
        return kn_node_error(c->node, KN_ERR_SHAPE, "A %s and B %s must have rank >= 1",
                             kn_shape_str(sa, sizeof sa, a->ndim, a->shape), kn_shape_str(sb, sizeof sb, b->ndim, b->shape));
    *m = a->ndim == 1 ? 1 : a->shape[a->ndim - 2];
    int64_t ka = a->shape[a->ndim - 1];
    int64_t kb = b->ndim == 1 ? b->shape[0] : b->shape[b->ndim - 2];
    *n = b->ndim == 1 ? 1 : b->shape[b->ndim - 1];
    if (ka != kb && ka != KN_DIM_UNKNOWN && kb != KN_DIM_UNKNOWN)
        return kn_node_error(c->node, KN_ERR_SHAPE, "inner dims differ: A %s and B %s (%lld vs %lld)",
                             kn_shape_str(sa, sizeof sa, a->ndim, a->shape), kn_shape_str(sb, sizeof sb, b->ndim, b->shape),
                             (long long)ka, (long long)kb);
    *k = ka != KN_DIM_UNKNOWN ? ka : kb;
    return KN_OK;
}

static kn_status matmul_infer(kn_op_ctx *c)
{
    KN_TRY(kn_require_inputs(c, 2));
    const kn_tensor *a = c->in[0], *b = c->in[1];
    if (a->dtype != KN_FLOAT || b->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "MatMul on %s x %s: only float is supported",
                             kn_dtype_name(a->dtype), kn_dtype_name(b->dtype));
    int64_t m, n, k;
    KN_TRY(mm_shapes(c, a, b, &m, &n, &k));
    int na = a->ndim > 2 ? a->ndim - 2 : 0, nb = b->ndim > 2 ? b->ndim - 2 : 0, nd;
    int64_t out[KN_MAX_DIMS + 2];
    KN_TRY(kn_op_broadcast(c, na, a->shape, nb, b->shape, &nd, out));
    if (a->ndim >= 2) out[nd++] = m;
    if (b->ndim >= 2) out[nd++] = n;
    kn_op_set_out(c, 0, KN_FLOAT, nd, out);
    return KN_OK;
}

static kn_status mm_geometry(const kn_op_ctx *c, mm_geom *g)
{
    const kn_tensor *a = c->in[0], *b = c->in[1];
    memset(g, 0, sizeof *g);
    KN_TRY(mm_shapes(c, a, b, &g->m, &g->n, &g->k));
    int na = a->ndim > 2 ? a->ndim - 2 : 0, nb = b->ndim > 2 ? b->ndim - 2 : 0;
    kn_bcast bc;
    KN_TRY(kn_bcast_init(&bc, na, a->shape, nb, b->shape));
    g->nbd = bc.ndim;
    g->batch = 1;
    for (int d = 0; d < bc.ndim; d++) {
        g->bshape[d] = bc.shape[d];
        g->astride[d] = bc.astride[d];
        g->bstride[d] = bc.bstride[d];
        g->batch *= bc.shape[d];
    }
    g->b_unbatched = nb == 0;
    return KN_OK;
}

/* Offsets (in matrices) of output batch i into A and B. */
static void mm_offsets(const mm_geom *g, int64_t i, int64_t *oa, int64_t *ob)
{
    int64_t a = 0, b = 0;
    for (int d = g->nbd - 1; d >= 0; d--) {
        int64_t j = i % g->bshape[d];
        i /= g->bshape[d];
        a += j * g->astride[d];
        b += j * g->bstride[d];
    }
    *oa = a;
    *ob = b;
}

static kn_status matmul_forward(kn_op_ctx *c)
{
    mm_geom g;
    KN_TRY(mm_geometry(c, &g));
    const float *A = c->in[0]->data, *B = c->in[1]->data;
    float *Y = c->out[0]->data;
    const int64_t m = g.m, n = g.n, k = g.k;
    if (g.b_unbatched) /* [batch*M, K] x [K, N] */
        return KN_KCALL(c->k, gemm, false, false, g.batch * m, n, k, 1.0f, A, k, B, n, 0.0f, Y, n, NULL);
    for (int64_t i = 0; i < g.batch; i++) {
        int64_t oa, ob;
        mm_offsets(&g, i, &oa, &ob);
        KN_TRY(KN_KCALL(c->k, gemm, false, false, m, n, k, 1.0f, A + oa * m * k, k, B + ob * k * n, n, 0.0f,
                        Y + i * m * n, n, NULL));
    }
    return KN_OK;
}

static kn_status matmul_backward(kn_op_ctx *c)
{
    const kn_tensor *gy = c->gout[0];
    if (!gy) return KN_OK;
    mm_geom g;
    KN_TRY(mm_geometry(c, &g));
    const float *A = c->in[0]->data, *B = c->in[1]->data, *G = gy->data;
    float *gA = c->gin[0] ? c->gin[0]->data : NULL, *gB = c->gin[1] ? c->gin[1]->data : NULL;
    const int64_t m = g.m, n = g.n, k = g.k;
    if (g.b_unbatched) {
        const int64_t mm = g.batch * m;
        if (gA) /* gA[bM, K] += G[bM, N] B^T */
            KN_TRY(KN_KCALL(c->k, gemm, false, true, mm, k, n, 1.0f, G, n, B, n, 1.0f, gA, k, NULL));
        if (gB) /* gB[K, N] += A^T[K, bM] G[bM, N] */
            KN_TRY(KN_KCALL(c->k, gemm, true, false, k, n, mm, 1.0f, A, k, G, n, 1.0f, gB, n, NULL));
        return KN_OK;
    }
    for (int64_t i = 0; i < g.batch; i++) {
        int64_t oa, ob;
        mm_offsets(&g, i, &oa, &ob);
        const float *Gi = G + i * m * n;
        if (gA)
            KN_TRY(KN_KCALL(c->k, gemm, false, true, m, k, n, 1.0f, Gi, n, B + ob * k * n, n, 1.0f, gA + oa * m * k,
                            k, NULL));
        if (gB)
            KN_TRY(KN_KCALL(c->k, gemm, true, false, k, n, m, 1.0f, A + oa * m * k, k, Gi, n, 1.0f, gB + ob * k * n,
                            n, NULL));
    }
    return KN_OK;
}

const kn_op_def kn_op_matmul = {
    .name = "MatMul", .domain = "", .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = matmul_infer, .forward = matmul_forward, .backward = matmul_backward,
};
