/* Size (ONNX 1-21): the input's element count as an int64 scalar. Reads
 * shapes only. */
#include "nn/ops/shape_util.h"

static kn_status size_infer(kn_op_ctx *c)
{
    kn_op_set_out(c, 0, KN_INT64, 0, NULL);
    return KN_OK;
}

static kn_status size_forward(kn_op_ctx *c)
{
    int64_t n = kn_tensor_numel(c->in[0]);
    return kn_shape_upload(c, c->out[0], &n, sizeof n);
}

const kn_op_def kn_op_size = {
    .name = "Size", .domain = "", .flags = KN_OP_META_ONLY,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = size_infer, .forward = size_forward,
};
