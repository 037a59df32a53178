/* Hardmax (ONNX 1-21): 1 at the first maximum along the axis, 0 elsewhere.
 * Before opset 13 the input is coerced to 2-D at `axis` (default 1) and the
 * maximum taken over the whole trailing block; from 13 over the single axis
 * `axis` (default -1). The argmax kernel finds the position (into the
 * workspace), the one-hot kernel writes the rows. Float32; no backward (the
 * output is piecewise constant). */
#include "nn/op.h"

#include <string.h>

static size_t hardmax_ws(kn_op_ctx *c)
{
    int64_t o, d, i;
    if (kn_op_softmax_geometry(c, c->in[0], &o, &d, &i) != KN_OK) return 0;
    return (size_t)(o * i) * sizeof(int64_t);
}

static kn_status hardmax_forward(kn_op_ctx *c)
{
    int64_t o, d, i;
    KN_TRY(kn_op_softmax_geometry(c, c->in[0], &o, &d, &i));
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
    .infer = kn_op_softmax_infer, .forward = hardmax_forward, .workspace = hardmax_ws,
};
