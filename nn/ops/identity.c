/* Identity (ONNX 1-21) on tensors: output 0 is a view of the input.
 * Optional and sequence inputs (opset 14/16 types) do not exist in kiln's
 * tensor-only values. */
#include "nn/ops/shape_util.h"

static kn_status identity_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    kn_op_set_out(c, 0, x->dtype, x->ndim, x->shape);
    return KN_OK;
}

static kn_status identity_forward(kn_op_ctx *c) { return kn_shape_copy_if_needed(c, c->out[0], c->in[0]); }

static kn_status identity_backward(kn_op_ctx *c) { return kn_shape_accum(c, c->gin[0], c->gout[0]); }

const kn_op_def kn_op_identity = {
    .name = "Identity", .domain = "", .flags = KN_OP_VIEW,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = identity_infer, .forward = identity_forward, .backward = identity_backward,
};
