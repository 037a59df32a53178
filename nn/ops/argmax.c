/* ArgMax and ArgMin (ONNX): int64 indices of the extreme along `axis`
 * (default 0), keepdims (default 1), select_last_index (opset 12+, default
 * 0) picks the last of equal extremes. Float32 input only. */
#include "nn/op.h"

typedef struct arg_attrs {
    int axis;
    bool keepdims, select_last;
} arg_attrs;

static kn_status arg_read(const kn_op_ctx *c, arg_attrs *a)
{
    int64_t axis, keep, last;
    const kn_tensor *x = c->in[0];
    KN_TRY(kn_attr_int(c->node, "axis", 0, &axis));
    KN_TRY(kn_attr_int(c->node, "keepdims", 1, &keep));
    KN_TRY(kn_attr_int(c->node, "select_last_index", 0, &last));
    if (x->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "input is %s; only float is supported", kn_dtype_name(x->dtype));
    if (x->ndim == 0) return kn_node_error(c->node, KN_ERR_SHAPE, "input must have rank >= 1, got a scalar");
    KN_TRY(kn_op_axis(c, axis, x->ndim, &a->axis));
    a->keepdims = keep != 0;
    a->select_last = last != 0;
    return KN_OK;
}

static kn_status arg_infer(kn_op_ctx *c)
{
    arg_attrs a;
    KN_TRY(arg_read(c, &a));
    const kn_tensor *x = c->in[0];
    int64_t out[KN_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (d != a.axis) out[nd++] = x->shape[d];
        else if (a.keepdims) out[nd++] = 1;
    }
    if (x->shape[a.axis] == 0)
        return kn_node_error(c->node, KN_ERR_SHAPE, "axis %d has no elements to choose from", a.axis);
    kn_op_set_out(c, 0, KN_INT64, nd, out);
    return KN_OK;
}

static kn_status arg_run(kn_op_ctx *c, bool is_min)
{
    arg_attrs a;
    KN_TRY(arg_read(c, &a));
    const kn_tensor *x = c->in[0];
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < a.axis; d++) outer *= x->shape[d];
    for (int d = a.axis + 1; d < x->ndim; d++) inner *= x->shape[d];
    return KN_KCALL(c->k, argreduce, is_min, a.select_last, outer, x->shape[a.axis], inner, x->data,
                    c->out[0]->data);
}

static kn_status argmax_forward(kn_op_ctx *c) { return arg_run(c, false); }
static kn_status argmin_forward(kn_op_ctx *c) { return arg_run(c, true); }

const kn_op_def kn_op_argmax = {
    .name = "ArgMax", .domain = "", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = arg_infer, .forward = argmax_forward,
};

const kn_op_def kn_op_argmin = {
    .name = "ArgMin", .domain = "", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = arg_infer, .forward = argmin_forward,
};
