/* Gather (ONNX 1-21): y = x.take(indices, axis). Output shape is
 * x.shape[:axis] + indices.shape + x.shape[axis+1:]. Indices are int32 or
 * int64, negative ones count from the end; an index outside [-d, d) is an
 * error naming the node, the index and its position. The normalised int64
 * indices live in the workspace (on the session's device) for the kernels;
 * the backward scatters gy back into the data gradient. */
#include "nn/ops/shape_util.h"

#include <stdlib.h>

static kn_status gather_axis(const kn_op_ctx *c, int r, int *axis)
{
    int64_t a;
    KN_TRY(kn_attr_int(c->node, "axis", 0, &a));
    if (r == 0) return kn_node_error(c->node, KN_ERR_SHAPE, "data must have rank >= 1");
    return kn_op_axis(c, a, r, axis);
}

static kn_status gather_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0], *idx = c->in[1];
    int axis;
    KN_TRY(gather_axis(c, x->ndim, &axis));
    if (idx->dtype != KN_INT64 && idx->dtype != KN_INT32)
        return kn_node_error(c->node, KN_ERR_SHAPE, "indices must be int32 or int64, got %s", kn_dtype_name(idx->dtype));
    int r = x->ndim - 1 + idx->ndim;
    if (r > KN_MAX_DIMS) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "output rank %d exceeds %d", r, KN_MAX_DIMS);
    int64_t y[KN_MAX_DIMS];
    int k = 0;
    for (int d = 0; d < axis; d++) y[k++] = x->shape[d];
    for (int d = 0; d < idx->ndim; d++) y[k++] = idx->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) y[k++] = x->shape[d];
    kn_op_set_out(c, 0, x->dtype, r, y);
    return KN_OK;
}

static size_t gather_ws(kn_op_ctx *c) { return (size_t)kn_tensor_numel(c->in[1]) * sizeof(int64_t); }

/* Normalised indices into c->ws (device memory of the session). */
static kn_status load_indices(kn_op_ctx *c, int64_t dim, int64_t *nidx)
{
    const kn_tensor *idx = c->in[1];
    int64_t n = kn_tensor_numel(idx);
    *nidx = n;
    if (n == 0) return KN_OK;
    if (c->ws_bytes < (size_t)n * sizeof(int64_t))
        return kn_node_error(c->node, KN_ERR_INTERNAL, "workspace too small for %lld indices", (long long)n);
    int64_t *host = c->device == KN_CPU ? c->ws : malloc((size_t)n * sizeof(int64_t));
    kn_status st = KN_OK;
    if (!host) return kn_error(KN_ERR_NOMEM, "out of memory for %lld indices", (long long)n);
    if (c->device == KN_CPU || idx->device == KN_CPU) {
        for (int64_t i = 0; i < n; i++) host[i] = kn_tensor_get_i64(idx, i);
    } else { /* device indices: fetch raw, widen on the host */
        st = KN_KCALL(c->k, memcpy_d2h, host, idx->data, (size_t)n * kn_dtype_size(idx->dtype));
        if (st == KN_OK && idx->dtype == KN_INT32)
            for (int64_t i = n - 1; i >= 0; i--) host[i] = ((const int32_t *)host)[i];
    }
    for (int64_t i = 0; st == KN_OK && i < n; i++) {
        int64_t v = host[i];
        if (v < -dim || v >= dim) {
            char s[160];
            st = kn_node_error(c->node, KN_ERR_INVALID, "index %lld at position %lld of indices %s is out of range for axis size %lld",
                               (long long)v, (long long)i, kn_shape_str(s, sizeof s, idx->ndim, idx->shape), (long long)dim);
        }
        host[i] = v < 0 ? v + dim : v;
    }
    if (st == KN_OK && c->device != KN_CPU) st = KN_KCALL(c->k, memcpy_h2d, c->ws, host, (size_t)n * sizeof(int64_t));
    if (c->device != KN_CPU) free(host);
    return st;
}

static void gather_dims(const kn_tensor *x, int axis, int64_t *outer, int64_t *inner)
{
    *outer = 1;
    *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) *inner *= x->shape[d];
}

static kn_status gather_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    int axis;
    int64_t outer, inner, n;
    if (x->dtype == KN_STRING) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "string tensors are not supported");
    KN_TRY(gather_axis(c, x->ndim, &axis));
    KN_TRY(load_indices(c, x->shape[axis], &n));
    if (kn_tensor_numel(c->out[0]) == 0) return KN_OK;
    gather_dims(x, axis, &outer, &inner);
    return KN_KCALL(c->k, gather, kn_dtype_size(x->dtype), outer, x->shape[axis], inner, c->ws, n, x->data, c->out[0]->data);
}

static kn_status gather_backward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0], *gy = c->gout[0];
    if (!gy || !c->gin[0]) return KN_OK;
    int axis;
    int64_t outer, inner, n;
    KN_TRY(gather_axis(c, x->ndim, &axis));
    KN_TRY(load_indices(c, x->shape[axis], &n));
    if (kn_tensor_numel(gy) == 0) return KN_OK;
    gather_dims(x, axis, &outer, &inner);
    return KN_KCALL(c->k, gather_bwd, outer, x->shape[axis], inner, c->ws, n, gy->data, c->gin[0]->data);
}

const kn_op_def kn_op_gather = {
    .name = "Gather", .domain = "",
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = gather_infer, .forward = gather_forward, .backward = gather_backward, .workspace = gather_ws,
};
