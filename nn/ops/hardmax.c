/* Hardmax (ONNX 1-21): 1 at the first maximum along the axis, 0 elsewhere.
 * Before opset 13 the input is coerced to 2-D at `axis` (default 1) and the
 * maximum taken over the whole trailing block; from 13 over the single axis
 * `axis` (default -1). The argmax kernel finds the position (into the
 * workspace), the one-hot kernel writes the rows. Float32; no backward (the
 * output is piecewise constant). */
#include "nn/op.h"

#include <string.h>

static kn_status hardmax_geometry(const kn_op_ctx *c, const kn_tensor *x, int64_t *outer, int64_t *dim,
                                  int64_t *inner)
{
    const bool old = c->opset < 13;
    int64_t axis;
    int ax;
    KN_TRY(kn_attr_int(c->node, "axis", old ? 1 : -1, &axis));
    if (x->ndim == 0) return kn_node_error(c->node, KN_ERR_SHAPE, "input must have rank >= 1, got a scalar");
    KN_TRY(kn_op_axis(c, axis, x->ndim, &ax));
    *outer = *dim = *inner = 1;
    for (int d = 0; d < x->ndim; d++) {
        int64_t *slot = d < ax ? outer : (d == ax || old ? dim : inner);
        *slot *= x->shape[d];
    }
    return KN_OK;
}

static kn_status hardmax_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    if (x->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "input is %s; only float is supported", kn_dtype_name(x->dtype));
    int64_t o, d, i; /* validates rank and axis; the products (maybe of unknown dims) go unused */
    KN_TRY(hardmax_geometry(c, x, &o, &d, &i));
    kn_op_set_out(c, 0, KN_FLOAT, x->ndim, x->shape);
    return KN_OK;
}

static size_t hardmax_ws(kn_op_ctx *c)
{
    int64_t o, d, i;
    if (hardmax_geometry(c, c->in[0], &o, &d, &i) != KN_OK) return 0;
    return (size_t)(o * i) * sizeof(int64_t);
}

static kn_status hardmax_forward(kn_op_ctx *c)
{
    int64_t o, d, i;
    KN_TRY(hardmax_geometry(c, c->in[0], &o, &d, &i));
    if (kn_tensor_numel(c->in[0]) == 0) return KN_OK;
    if (c->ws_bytes < (size_t)(o * i) * sizeof(int64_t))
        return kn_node_error(c->node, KN_ERR_INTERNAL, "workspace too small");
    KN_TRY(KN_KCALL(c->k, argreduce, false, false, o, d, i, c->in[0]->data, c->ws));
    const float one = 1.0f;
    uint64_t on = 0;
    memcpy(&on, &one, sizeof one);
    return KN_KCALL(c->k, one_hot, sizeof(float), o, d, i, c->ws, 0, on, c->out[0]->data);
}

const kn_op_def kn_op_hardmax = {
    .name = "Hardmax", .domain = "", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = hardmax_infer, .forward = hardmax_forward, .workspace = hardmax_ws,
};
