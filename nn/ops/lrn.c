/* LRN (ONNX): local response normalization across channels of
 * [N, C, D1, ...]; attributes alpha 1e-4, beta 0.75, bias 1, size (required).
 * Forward only (no model kiln trains uses it). Float32. */
#include "nn/op.h"

typedef struct lrn_attrs {
    float alpha, beta, bias;
    int64_t size;
} lrn_attrs;

static kn_status lrn_attrs_read(const kn_node *n, lrn_attrs *a)
{
    const kn_attr *sz;
    KN_TRY(kn_attr_float(n, "alpha", 1e-4f, &a->alpha));
    KN_TRY(kn_attr_float(n, "beta", 0.75f, &a->beta));
    KN_TRY(kn_attr_float(n, "bias", 1.0f, &a->bias));
    KN_TRY(kn_attr_require(n, "size", KN_ATTR_INT, &sz));
    a->size = sz->i;
    if (a->size < 1) return kn_node_error(n, KN_ERR_INVALID, "size must be >= 1, got %lld", (long long)a->size);
    return KN_OK;
}

static kn_status lrn_infer(kn_op_ctx *c)
{
    lrn_attrs a;
    KN_TRY(lrn_attrs_read(c->node, &a));
    const kn_tensor *x = c->in[0];
    char sx[160];
    if (x->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "input is %s; only float is supported", kn_dtype_name(x->dtype));
    if (x->ndim < 2)
        return kn_node_error(c->node, KN_ERR_SHAPE, "input must be [N, C, ...] (rank >= 2), got %s",
                             kn_shape_str(sx, sizeof sx, x->ndim, x->shape));
    kn_op_set_out(c, 0, KN_FLOAT, x->ndim, x->shape);
    return KN_OK;
}

static kn_status lrn_forward(kn_op_ctx *c)
{
    lrn_attrs a;
    KN_TRY(lrn_attrs_read(c->node, &a));
    const kn_tensor *x = c->in[0];
    int64_t spatial = 1;
    for (int d = 2; d < x->ndim; d++) spatial *= x->shape[d];
    return KN_KCALL(c->k, lrn, x->shape[0], x->shape[1], spatial, a.size, a.alpha, a.beta, a.bias, x->data,
                    c->out[0]->data);
}

const kn_op_def kn_op_lrn = {
    .name = "LRN", .domain = "", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = lrn_infer, .forward = lrn_forward,
};
