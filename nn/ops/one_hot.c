/* OneHot (ONNX 9, 11): indices (any numeric type; floats truncate) expand
 * into a new dim of size depth (a scalar input, read at inference) inserted at
 * `axis` (default -1, counted on the output rank); values = [off, on] give
 * the output dtype. Indices outside [0, depth) give a row of off values; from
 * opset 11 negative ones count from the end first. */
#include "nn/ops/host_scalar.h"
#include "nn/ops/index_util.h"

#include <stdlib.h>

static kn_status one_hot_depth(const kn_op_ctx *c, int64_t *depth)
{
    const kn_tensor *d = c->in[1];
    double v;
    if (kn_tensor_numel(d) != 1)
        return kn_node_error(c->node, KN_ERR_SHAPE, "depth must hold one value, got %lld", (long long)kn_tensor_numel(d));
    KN_TRY(kn_host_f64(d, 0, &v));
    if (!(v >= 1) || v > 1e15) return kn_node_error(c->node, KN_ERR_INVALID, "depth %g must be a positive count", v);
    *depth = (int64_t)v;
    return KN_OK;
}

static kn_status one_hot_axis(const kn_op_ctx *c, int out_rank, int *axis)
{
    int64_t a;
    KN_TRY(kn_attr_int(c->node, "axis", -1, &a));
    return kn_op_axis(c, a, out_rank, axis);
}

static kn_status one_hot_infer(kn_op_ctx *c)
{
    const kn_tensor *idx = c->in[0], *vals = c->in[2];
    int64_t depth, y[KN_MAX_DIMS];
    int axis, r = idx->ndim + 1;
    if (r > KN_MAX_DIMS) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "output rank %d exceeds %d", r, KN_MAX_DIMS);
    if (vals->ndim != 1 || (vals->shape[0] != 2 && vals->shape[0] != KN_DIM_UNKNOWN))
        return kn_node_error(c->node, KN_ERR_SHAPE, "values must be [off, on] (2 elements)");
    if (vals->dtype == KN_STRING) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "string values are not supported");
    if (!kn_dtype_is_int(idx->dtype) && !kn_dtype_is_float(idx->dtype))
        return kn_node_error(c->node, KN_ERR_SHAPE, "indices must be numeric, got %s", kn_dtype_name(idx->dtype));
    KN_TRY(one_hot_depth(c, &depth));
    KN_TRY(one_hot_axis(c, r, &axis));
    for (int d = 0, k = 0; d < r; d++) y[d] = d == axis ? depth : idx->shape[k++];
    kn_op_set_out(c, 0, vals->dtype, r, y);
    return KN_OK;
}

static size_t one_hot_ws(kn_op_ctx *c) { return (size_t)kn_tensor_numel(c->in[0]) * sizeof(int64_t); }

static kn_status one_hot_forward(kn_op_ctx *c)
{
    const kn_tensor *idx = c->in[0], *vals = c->in[2];
    int64_t depth, n, outer = 1, inner = 1, *h;
    int axis;
    KN_TRY(one_hot_depth(c, &depth));
    KN_TRY(one_hot_axis(c, idx->ndim + 1, &axis));
    for (int d = 0; d < idx->ndim; d++) *(d < axis ? &outer : &inner) *= idx->shape[d];
    uint64_t off, on;
    kn_tensor one;
    KN_TRY(kn_host_elem(vals, 0, &off, &one));
    KN_TRY(kn_host_elem(vals, 1, &on, &one));
    KN_TRY(kn_index_read(c, 0, &h, &n));
    /* out-of-range stays out of range (the kernel writes off values for it) */
    for (int64_t i = 0; i < n; i++)
        if (h[i] < 0 && c->opset >= 11) h[i] += depth;
    kn_status st = kn_index_upload(c, h, n);
    free(h);
    if (st != KN_OK || n == 0) return st;
    return KN_KCALL(c->k, one_hot, kn_dtype_size(vals->dtype), outer, depth, inner, c->ws, off, on, c->out[0]->data);
}

const kn_op_def kn_op_one_hot = {
    .name = "OneHot", .domain = "", .infer_data = 1u << 1,
    .min_inputs = 3, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = one_hot_infer, .forward = one_hot_forward, .workspace = one_hot_ws,
};
