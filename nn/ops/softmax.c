/* Softmax and LogSoftmax (ONNX). Before opset 13 the input is coerced to
 * 2-D at `axis` (default 1) and normalised over the whole trailing block;
 * from opset 13 over the single axis `axis` (default -1). Either way the
 * kernel sees [outer, dim, inner]. Float32 only. */
#include "nn/op.h"

/* Fold the input shape into [outer, dim, inner] per the node's opset. */
static kn_status softmax_geometry(const kn_op_ctx *c, const kn_tensor *x, int64_t *outer, int64_t *dim,
                                  int64_t *inner)
{
    const bool old = c->opset < 13;
    int64_t axis;
    int ax;
    KN_TRY(kn_attr_int(c->node, "axis", old ? 1 : -1, &axis));
    if (x->ndim == 0) return kn_node_error(c->node, KN_ERR_SHAPE, "input must have rank >= 1, got a scalar");
    KN_TRY(kn_op_axis(c, axis, x->ndim, &ax));
    *outer = 1; *dim = 1; *inner = 1;
    for (int d = 0; d < x->ndim; d++) {
        int64_t *slot = d < ax ? outer : (d == ax || old ? dim : inner);
        *slot *= x->shape[d];
    }
    return KN_OK;
}

static kn_status softmax_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    if (x->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "input is %s; only float is supported", kn_dtype_name(x->dtype));
    int64_t outer, dim, inner; /* validates rank and axis; the products (maybe of unknown dims) go unused */
    KN_TRY(softmax_geometry(c, x, &outer, &dim, &inner));
    kn_op_set_out(c, 0, KN_FLOAT, x->ndim, x->shape);
    return KN_OK;
}

static kn_status softmax_run(kn_op_ctx *c, bool log)
{
    int64_t outer, dim, inner;
    KN_TRY(softmax_geometry(c, c->in[0], &outer, &dim, &inner));
    return KN_KCALL(c->k, softmax, log, outer, dim, inner, c->in[0]->data, c->out[0]->data);
}

static kn_status softmax_back(kn_op_ctx *c, bool log)
{
    if (!c->gout[0] || !c->gin[0]) return KN_OK;
    int64_t outer, dim, inner;
    KN_TRY(softmax_geometry(c, c->in[0], &outer, &dim, &inner));
    return KN_KCALL(c->k, softmax_bwd, log, outer, dim, inner, c->out[0]->data, c->gout[0]->data,
                    c->gin[0]->data);
}

static kn_status softmax_forward(kn_op_ctx *c) { return softmax_run(c, false); }
static kn_status log_softmax_forward(kn_op_ctx *c) { return softmax_run(c, true); }
static kn_status softmax_backward(kn_op_ctx *c) { return softmax_back(c, false); }
static kn_status log_softmax_backward(kn_op_ctx *c) { return softmax_back(c, true); }

const kn_op_def kn_op_softmax = {
    .name = "Softmax", .domain = "", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = softmax_infer, .forward = softmax_forward, .backward = softmax_backward,
};

const kn_op_def kn_op_log_softmax = {
    .name = "LogSoftmax", .domain = "", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = softmax_infer, .forward = log_softmax_forward, .backward = log_softmax_backward,
};
