/* CumSum (ONNX 11-21): running sum along the axis given by the scalar input
 * `axis` (int32/int64), with attributes exclusive (leave the element itself
 * out) and reverse (sum from the end). float, double, int32, int64 (and
 * uint32/uint64 from opset 14). The float32 backward is the running sum of gy
 * in the opposite direction, with the same exclusivity. */
#include "nn/ops/shape_util.h"

static kn_status cumsum_geometry(const kn_op_ctx *c, int64_t *outer, int64_t *dim, int64_t *inner,
                                 bool *exclusive, bool *reverse)
{
    const kn_tensor *x = c->in[0];
    int64_t a, e, r;
    int n, axis;
    KN_TRY(kn_shape_read_ints(c, 1, "axis", &a, 1, &n));
    if (n != 1) return kn_node_error(c->node, KN_ERR_SHAPE, "axis must hold one value, got %d", n);
    if (x->ndim == 0) return kn_node_error(c->node, KN_ERR_SHAPE, "input must have rank >= 1");
    KN_TRY(kn_op_axis(c, a, x->ndim, &axis));
    KN_TRY(kn_attr_int(c->node, "exclusive", 0, &e));
    KN_TRY(kn_attr_int(c->node, "reverse", 0, &r));
    *exclusive = e != 0;
    *reverse = r != 0;
    *outer = *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) *inner *= x->shape[d];
    *dim = x->shape[axis];
    return KN_OK;
}

static kn_status cumsum_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    kn_dtype t = x->dtype;
    if (t != KN_FLOAT && t != KN_DOUBLE && t != KN_INT32 && t != KN_INT64 && t != KN_UINT32 && t != KN_UINT64)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "input is %s; float, double, int32, int64, uint32, uint64 are supported",
                             kn_dtype_name(t));
    if (x->ndim == 0) return kn_node_error(c->node, KN_ERR_SHAPE, "input must have rank >= 1");
    /* axis is checked at run time: the output shape does not depend on it */
    kn_op_set_out(c, 0, t, x->ndim, x->shape);
    return KN_OK;
}

static kn_status cumsum_forward(kn_op_ctx *c)
{
    int64_t o, d, i;
    bool e, r;
    KN_TRY(cumsum_geometry(c, &o, &d, &i, &e, &r));
    if (kn_tensor_numel(c->in[0]) == 0) return KN_OK;
    return KN_KCALL(c->k, cumsum, c->in[0]->dtype, e, r, false, o, d, i, c->in[0]->data, c->out[0]->data);
}

static kn_status cumsum_backward(kn_op_ctx *c)
{
    const kn_tensor *gy = c->gout[0];
    if (!gy || !c->gin[0] || kn_tensor_numel(gy) == 0) return KN_OK;
    if (c->in[0]->dtype != KN_FLOAT) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "gradients need float input");
    int64_t o, d, i;
    bool e, r;
    KN_TRY(cumsum_geometry(c, &o, &d, &i, &e, &r));
    return KN_KCALL(c->k, cumsum, KN_FLOAT, e, !r, true, o, d, i, gy->data, c->gin[0]->data);
}

const kn_op_def kn_op_cumsum = {
    .name = "CumSum", .domain = "",
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = cumsum_infer, .forward = cumsum_forward, .backward = cumsum_backward,
};
