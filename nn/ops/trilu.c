/* Trilu (ONNX 14-21): keep the upper (upper=1, default) or lower triangle of
 * the last two dims, shifted by the optional scalar input k (positive: above
 * the main diagonal); everything else becomes zero. Any dtype; float32
 * backward passes gy through the kept elements. */
#include "nn/ops/shape_util.h"

static kn_status trilu_args(const kn_op_ctx *c, bool *upper, int64_t *k)
{
    int64_t u;
    int n = 0;
    KN_TRY(kn_attr_int(c->node, "upper", 1, &u));
    *upper = u != 0;
    *k = 0;
    if (KN_IN(c, 1)) {
        KN_TRY(kn_shape_read_ints(c, 1, "k", k, 1, &n));
        if (n != 1) return kn_node_error(c->node, KN_ERR_SHAPE, "k must hold one value, got %d", n);
    }
    return KN_OK;
}

static kn_status trilu_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    if (x->ndim < 2) return kn_node_error(c->node, KN_ERR_SHAPE, "input must have rank >= 2, got %d", x->ndim);
    if (x->dtype == KN_STRING) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "string tensors are not supported");
    kn_op_set_out(c, 0, x->dtype, x->ndim, x->shape);
    return KN_OK;
}

static void trilu_dims(const kn_tensor *x, int64_t *batch, int64_t *rows, int64_t *cols)
{
    *batch = 1;
    for (int d = 0; d < x->ndim - 2; d++) *batch *= x->shape[d];
    *rows = x->shape[x->ndim - 2];
    *cols = x->shape[x->ndim - 1];
}

static kn_status trilu_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    bool upper;
    int64_t k, b, r, cl;
    KN_TRY(trilu_args(c, &upper, &k));
    if (kn_tensor_numel(x) == 0) return KN_OK;
    trilu_dims(x, &b, &r, &cl);
    return KN_KCALL(c->k, trilu, kn_dtype_size(x->dtype), upper, false, b, r, cl, k, x->data, c->out[0]->data);
}

static kn_status trilu_backward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0], *gy = c->gout[0];
    if (!gy || !c->gin[0] || kn_tensor_numel(x) == 0) return KN_OK;
    if (x->dtype != KN_FLOAT) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "gradients need float input");
    bool upper;
    int64_t k, b, r, cl;
    KN_TRY(trilu_args(c, &upper, &k));
    trilu_dims(x, &b, &r, &cl);
    return KN_KCALL(c->k, trilu, sizeof(float), upper, true, b, r, cl, k, gy->data, c->gin[0]->data);
}

const kn_op_def kn_op_trilu = {
    .name = "Trilu", .domain = "",
    .min_inputs = 1, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = trilu_infer, .forward = trilu_forward, .backward = trilu_backward,
};
