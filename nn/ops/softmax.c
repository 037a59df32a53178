/* Softmax and LogSoftmax (ONNX). Before opset 13 the input is coerced to
 * 2-D at `axis` (default 1) and normalised over the whole trailing block;
 * from opset 13 over the single axis `axis` (default -1). Either way the
 * kernel sees [outer, dim, inner]. Float32 only. */
#include "nn/op.h"

static kn_status softmax_run(kn_op_ctx *c, bool log)
{
    int64_t outer, dim, inner;
    KN_TRY(kn_op_softmax_geometry(c, c->in[0], &outer, &dim, &inner));
    return KN_KCALL(c->k, softmax, log, outer, dim, inner, c->in[0]->data, c->out[0]->data);
}

static kn_status softmax_back(kn_op_ctx *c, bool log)
{
    if (!c->gout[0] || !c->gin[0]) return KN_OK;
    int64_t outer, dim, inner;
    KN_TRY(kn_op_softmax_geometry(c, c->in[0], &outer, &dim, &inner));
    return KN_KCALL(c->k, softmax_bwd, log, outer, dim, inner, c->out[0]->data, c->gout[0]->data,
                    c->gin[0]->data);
}

static kn_status softmax_forward(kn_op_ctx *c) { return softmax_run(c, false); }
static kn_status log_softmax_forward(kn_op_ctx *c) { return softmax_run(c, true); }
static kn_status softmax_backward(kn_op_ctx *c) { return softmax_back(c, false); }
static kn_status log_softmax_backward(kn_op_ctx *c) { return softmax_back(c, true); }

const kn_op_def kn_op_softmax = {
    .name = "Softmax", .domain = "", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = kn_op_softmax_infer, .forward = softmax_forward, .backward = softmax_backward,
};

const kn_op_def kn_op_log_softmax = {
    .name = "LogSoftmax", .domain = "", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = kn_op_softmax_infer, .forward = log_softmax_forward, .backward = log_softmax_backward,
};
