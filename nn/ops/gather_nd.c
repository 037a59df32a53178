/* GatherND (ONNX 11-21; batch_dims from 12) and ScatterND (11-21; reduction
 * add/mul from 16, max/min from 18). The last dim k of indices addresses data
 * dims [b, b+k) (b = batch_dims, 0 for ScatterND); each index tuple selects a
 * contiguous slice of the trailing dims. The op turns every tuple into a row
 * number of data viewed as [rows, slice] on the host (range-checked there,
 * errors name the node) and runs the plain gather / scatter kernels on rows.
 * GatherND's float32 backward scatter-adds gy through the same rows. */
#include "nn/ops/index_util.h"
#include "nn/ops/shape_util.h"

#include <stdlib.h>

kn_status kn_scatter_reduction(const kn_op_ctx *c, kn_scatter_red *red); /* gather_elements.c */

typedef struct nd_geo {
    int b, k;
    int64_t slice; /* elements per selected slice */
    int64_t rows;  /* slices in data */
} nd_geo;

static kn_status nd_check(kn_op_ctx *c, const kn_tensor *x, const kn_tensor *idx, int b, nd_geo *g)
{
    char s1[160], s2[160];
    if (idx->dtype != KN_INT64 && idx->dtype != KN_INT32)
        return kn_node_error(c->node, KN_ERR_SHAPE, "indices must be int64, got %s", kn_dtype_name(idx->dtype));
    if (idx->ndim < 1 || x->ndim < 1)
        return kn_node_error(c->node, KN_ERR_SHAPE, "data and indices must have rank >= 1");
    if (b < 0 || b >= idx->ndim || b >= x->ndim)
        return kn_node_error(c->node, KN_ERR_INVALID, "batch_dims %d must be below both ranks", b);
    int64_t k = idx->shape[idx->ndim - 1];
    if (k == KN_DIM_UNKNOWN)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "the last dim of indices must be known (it sets the output rank)");
    if (k < 1 || b + k > x->ndim)
        return kn_node_error(c->node, KN_ERR_SHAPE, "indices %s address %lld dims of data %s after %d batch dims",
                             kn_shape_str(s1, sizeof s1, idx->ndim, idx->shape), (long long)k,
                             kn_shape_str(s2, sizeof s2, x->ndim, x->shape), b);
    for (int d = 0; d < b; d++)
        if (idx->shape[d] != x->shape[d] && idx->shape[d] != KN_DIM_UNKNOWN && x->shape[d] != KN_DIM_UNKNOWN)
            return kn_node_error(c->node, KN_ERR_SHAPE, "batch dim %d differs: indices %s, data %s", d,
                                 kn_shape_str(s1, sizeof s1, idx->ndim, idx->shape), kn_shape_str(s2, sizeof s2, x->ndim, x->shape));
    g->b = b;
    g->k = (int)k;
    g->slice = 1;
    g->rows = 1;
    for (int d = b + g->k; d < x->ndim; d++) g->slice *= x->shape[d];
    for (int d = 0; d < b + g->k; d++) g->rows *= x->shape[d];
    return KN_OK;
}

/* Row numbers for every index tuple into the workspace; *n = tuple count. */
static kn_status nd_rows(kn_op_ctx *c, const kn_tensor *x, const kn_tensor *idx, const nd_geo *g, int64_t *n)
{
    int64_t *h, cnt, batch = 1;
    KN_TRY(kn_index_read(c, 1, &h, &cnt));
    *n = cnt / g->k;
    for (int d = 0; d < g->b; d++) batch *= idx->shape[d];
    const int64_t per_batch = batch ? *n / batch : 0;
    int64_t inner_rows = 1; /* rows inside one batch */
    for (int d = g->b; d < g->b + g->k; d++) inner_rows *= x->shape[d];
    kn_status st = KN_OK;
    for (int64_t t = 0; t < *n && st == KN_OK; t++) {
        int64_t row = 0;
        for (int j = 0; j < g->k && st == KN_OK; j++) {
            int64_t v = h[t * g->k + j];
            st = kn_index_norm(c, "index", t * g->k + j, x->shape[g->b + j], &v);
            row = row * x->shape[g->b + j] + v;
        }
        h[t] = (per_batch ? t / per_batch : 0) * inner_rows + row; /* t >= t*k: no overlap */
    }
    if (st == KN_OK) st = kn_index_upload(c, h, *n);
    free(h);
    return st;
}

static size_t nd_ws(kn_op_ctx *c)
{
    const kn_tensor *idx = c->in[1];
    int64_t k = idx->ndim ? idx->shape[idx->ndim - 1] : 1;
    return k > 0 ? (size_t)(kn_tensor_numel(idx) / k) * sizeof(int64_t) : 0;
}

static kn_status gather_nd_batch(const kn_op_ctx *c, int *b)
{
    int64_t v;
    KN_TRY(kn_attr_int(c->node, "batch_dims", 0, &v));
    if (v < 0 || v >= KN_MAX_DIMS) return kn_node_error(c->node, KN_ERR_INVALID, "batch_dims %lld is out of range", (long long)v);
    *b = (int)v;
    return KN_OK;
}

static kn_status gather_nd_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0], *idx = c->in[1];
    nd_geo g;
    int b;
    KN_TRY(gather_nd_batch(c, &b));
    KN_TRY(nd_check(c, x, idx, b, &g));
    int r = idx->ndim - 1 + x->ndim - b - g.k;
    if (r > KN_MAX_DIMS) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "output rank %d exceeds %d", r, KN_MAX_DIMS);
    int64_t y[KN_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < idx->ndim - 1; d++) y[n++] = idx->shape[d];
    for (int d = b + g.k; d < x->ndim; d++) y[n++] = x->shape[d];
    kn_op_set_out(c, 0, x->dtype, n, y);
    return KN_OK;
}

static kn_status gather_nd_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    nd_geo g;
    int b;
    int64_t n;
    if (x->dtype == KN_STRING) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "string tensors are not supported");
    KN_TRY(gather_nd_batch(c, &b));
    KN_TRY(nd_check(c, x, c->in[1], b, &g));
    KN_TRY(nd_rows(c, x, c->in[1], &g, &n));
    if (kn_tensor_numel(c->out[0]) == 0) return KN_OK;
    return KN_KCALL(c->k, gather, kn_dtype_size(x->dtype), 1, g.rows, g.slice, c->ws, n, x->data, c->out[0]->data);
}

static kn_status gather_nd_backward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0], *gy = c->gout[0];
    if (!gy || !c->gin[0]) return KN_OK;
    if (x->dtype != KN_FLOAT) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "gradients need float data");
    nd_geo g;
    int b;
    int64_t n;
    KN_TRY(gather_nd_batch(c, &b));
    KN_TRY(nd_check(c, x, c->in[1], b, &g));
    KN_TRY(nd_rows(c, x, c->in[1], &g, &n));
    if (kn_tensor_numel(gy) == 0) return KN_OK;
    return KN_KCALL(c->k, gather_bwd, 1, g.rows, g.slice, c->ws, n, gy->data, c->gin[0]->data);
}

const kn_op_def kn_op_gather_nd = {
    .name = "GatherND", .domain = "",
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = gather_nd_infer, .forward = gather_nd_forward, .backward = gather_nd_backward, .workspace = nd_ws,
};

static kn_status scatter_nd_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0], *idx = c->in[1], *u = c->in[2];
    nd_geo g;
    kn_scatter_red red;
    KN_TRY(nd_check(c, x, idx, 0, &g));
    KN_TRY(kn_scatter_reduction(c, &red));
    if (u->dtype != x->dtype)
        return kn_node_error(c->node, KN_ERR_SHAPE, "updates are %s, data %s", kn_dtype_name(u->dtype), kn_dtype_name(x->dtype));
    /* updates = indices.shape[:-1] + data.shape[k:] */
    int64_t want[2 * KN_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < idx->ndim - 1; d++) want[n++] = idx->shape[d];
    for (int d = g.k; d < x->ndim; d++) want[n++] = x->shape[d];
    bool ok = u->ndim == n;
    for (int d = 0; ok && d < n; d++) ok = u->shape[d] == want[d] || u->shape[d] == KN_DIM_UNKNOWN || want[d] == KN_DIM_UNKNOWN;
    if (!ok) {
        char s1[160], s2[160];
        return kn_node_error(c->node, KN_ERR_SHAPE, "updates %s must have shape %s", kn_shape_str(s1, sizeof s1, u->ndim, u->shape),
                             kn_ints_str(s2, sizeof s2, n, want));
    }
    kn_op_set_out(c, 0, x->dtype, x->ndim, x->shape);
    return KN_OK;
}

static kn_status scatter_nd_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    nd_geo g;
    kn_scatter_red red;
    int64_t n;
    if (x->dtype == KN_STRING) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "string tensors are not supported");
    KN_TRY(nd_check(c, x, c->in[1], 0, &g));
    KN_TRY(kn_scatter_reduction(c, &red));
    KN_TRY(nd_rows(c, x, c->in[1], &g, &n));
    KN_TRY(kn_shape_copy_if_needed(c, c->out[0], x));
    if (n == 0 || g.slice == 0) return KN_OK;
    return KN_KCALL(c->k, scatter, x->dtype, red, n, g.slice, c->ws, c->in[2]->data, c->out[0]->data);
}

const kn_op_def kn_op_scatter_nd = {
    .name = "ScatterND", .domain = "",
    .min_inputs = 3, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = scatter_nd_infer, .forward = scatter_nd_forward, .workspace = nd_ws,
};
