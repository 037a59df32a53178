/* Expand (ONNX 8-21): broadcast the input against the `shape` input (numpy
 * rules in both directions: a 1 in shape keeps the input's dim). One strided
 * copy with 0 strides on broadcast dims; the backward sums gy over them with
 * add_strided. */
#include "nn/ops/shape_util.h"

static kn_status expand_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    int64_t s[KN_MAX_DIMS], y[KN_MAX_DIMS];
    int n, nd;
    char b[160];
    KN_TRY(kn_shape_read_ints(c, 1, "shape", s, KN_MAX_DIMS, &n));
    for (int i = 0; i < n; i++)
        if (s[i] < 0) return kn_node_error(c->node, KN_ERR_INVALID, "shape %s has a negative dim", kn_ints_str(b, sizeof b, n, s));
    KN_TRY(kn_op_broadcast(c, x->ndim, x->shape, n, s, &nd, y));
    kn_op_set_out(c, 0, x->dtype, nd, y);
    return KN_OK;
}

/* x strides aligned to y's dims, 0 where x is broadcast. */
static void bcast_strides(const kn_tensor *x, const kn_tensor *y, int64_t *xs)
{
    int64_t cs[KN_MAX_DIMS];
    kn_shape_strides(x->ndim, x->shape, cs);
    int lead = y->ndim - x->ndim;
    for (int d = 0; d < y->ndim; d++) {
        int xd = d - lead;
        xs[d] = xd < 0 || x->shape[xd] == 1 ? 0 : cs[xd];
    }
}

static kn_status expand_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    kn_tensor *y = c->out[0];
    int64_t xs[KN_MAX_DIMS], ys[KN_MAX_DIMS];
    if (x->dtype == KN_STRING) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "string tensors are not supported");
    if (kn_tensor_numel(y) == 0) return KN_OK;
    bcast_strides(x, y, xs);
    kn_shape_strides(y->ndim, y->shape, ys);
    return KN_KCALL(c->k, copy_strided, kn_dtype_size(x->dtype), y->ndim, y->shape, x->data, xs, y->data, ys);
}

static kn_status expand_backward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0], *gy = c->gout[0];
    if (!gy || !c->gin[0] || kn_tensor_numel(gy) == 0) return KN_OK;
    int64_t xs[KN_MAX_DIMS], ys[KN_MAX_DIMS];
    bcast_strides(x, gy, xs);
    kn_shape_strides(gy->ndim, gy->shape, ys);
    return KN_KCALL(c->k, add_strided, gy->ndim, gy->shape, gy->data, ys, c->gin[0]->data, xs);
}

const kn_op_def kn_op_expand = {
    .name = "Expand", .domain = "", .infer_data = 1u << 1,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = expand_infer, .forward = expand_forward, .backward = expand_backward,
};
