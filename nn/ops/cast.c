/* Cast (ONNX 1-21): convert to the dtype of the `to` attribute through the
 * cast kernel (numeric dtypes, float16, double, bool; float -> int truncates
 * toward zero). Strings and dtypes kiln lacks (bfloat16, float8, int4) are
 * KN_ERR_UNSUPPORTED naming the node. Opset 6+ uses the integer `to`; the
 * opset-1 string spelling ("FLOAT") is not supported. No backward. */
#include "nn/ops/shape_util.h"

static kn_status cast_to(const kn_op_ctx *c, kn_dtype from, kn_dtype *to)
{
    const kn_attr *a = kn_node_attr(c->node, "to");
    if (!a) return kn_node_error(c->node, KN_ERR_INVALID, "attribute 'to' is required");
    if (a->type != KN_ATTR_INT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "attribute 'to' must be an integer dtype code (opset 6+)");
    if (a->i < 1 || a->i > KN_DTYPE_MAX || !kn_dtype_valid((int)a->i))
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "cast to dtype code %lld is not supported", (long long)a->i);
    *to = (kn_dtype)a->i;
    if (*to == KN_STRING || from == KN_STRING)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "cast from %s to %s: strings are not supported",
                             kn_dtype_name(from), kn_dtype_name(*to));
    return KN_OK;
}

static kn_status cast_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    kn_dtype to;
    KN_TRY(cast_to(c, x->dtype, &to));
    kn_op_set_out(c, 0, to, x->ndim, x->shape);
    return KN_OK;
}

static kn_status cast_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    kn_dtype to;
    KN_TRY(cast_to(c, x->dtype, &to));
    return KN_KCALL(c->k, cast, x->dtype, to, kn_tensor_numel(x), x->data, c->out[0]->data);
}

const kn_op_def kn_op_cast = {
    .name = "Cast", .domain = "",
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = cast_infer, .forward = cast_forward,
};
