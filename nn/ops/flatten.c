/* Flatten (ONNX 1-21): [d0..d(axis-1), d(axis)..] -> [prod before, prod after],
 * axis in [-r, r] (default 1). Output 0 is a view of the input. */
#include "nn/ops/shape_util.h"

static kn_status flatten_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    int64_t axis;
    KN_TRY(kn_attr_int(c->node, "axis", 1, &axis));
    int r = x->ndim;
    if (axis < -r || axis > r)
        return kn_node_error(c->node, KN_ERR_INVALID, "axis %lld is out of range for rank %d (allowed [%d, %d])",
                             (long long)axis, r, -r, r);
    if (axis < 0) axis += r;
    int64_t y[2];
    if (!kn_shape_known_numel((int)axis, x->shape, &y[0])) y[0] = KN_DIM_UNKNOWN;
    if (!kn_shape_known_numel(r - (int)axis, x->shape + axis, &y[1])) y[1] = KN_DIM_UNKNOWN;
    kn_op_set_out(c, 0, x->dtype, 2, y);
    return KN_OK;
}

static kn_status flatten_forward(kn_op_ctx *c) { return kn_shape_copy_if_needed(c, c->out[0], c->in[0]); }

static kn_status flatten_backward(kn_op_ctx *c) { return kn_shape_accum(c, c->gin[0], c->gout[0]); }

const kn_op_def kn_op_flatten = {
    .name = "Flatten", .domain = "", .flags = KN_OP_VIEW,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = flatten_infer, .forward = flatten_forward, .backward = flatten_backward,
};
