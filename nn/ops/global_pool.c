/* GlobalAveragePool and GlobalMaxPool (ONNX), any spatial rank >= 1: the spatial
 * dims flatten into one row, pooled by the 2-D kernels as a 1 x S window. In
 * training GlobalMaxPool keeps its argmax in state[0] for backward. */
#include "nn/ops/window.h"

static kn_status gp_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    char s[160];
    if (x->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "X is %s; only float is supported", kn_dtype_name(x->dtype));
    if (x->ndim < 3)
        return kn_node_error(c->node, KN_ERR_SHAPE, "X %s must be [N, C, spatial...] with rank >= 3",
                             kn_shape_str(s, sizeof s, x->ndim, x->shape));
    int64_t y[KN_MAX_DIMS] = {x->shape[0], x->shape[1]};
    for (int i = 2; i < x->ndim; i++) y[i] = 1;
    kn_op_set_out(c, 0, KN_FLOAT, x->ndim, y);
    return KN_OK;
}

static void gp_desc(const kn_op_ctx *c, kn_pool2d_desc *d)
{
    const kn_tensor *x = c->in[0];
    int64_t s = 1;
    for (int i = 2; i < x->ndim; i++) s *= x->shape[i];
    *d = (kn_pool2d_desc){.n = x->shape[0], .c = x->shape[1], .h = 1, .w = s, .oh = 1, .ow = 1, .kh = 1, .kw = s,
                          .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1};
}

static kn_status gap_forward(kn_op_ctx *c)
{
    kn_pool2d_desc d;
    gp_desc(c, &d);
    return KN_KCALL(c->k, avgpool2d_fwd, &d, c->in[0]->data, c->out[0]->data);
}

static kn_status gap_backward(kn_op_ctx *c)
{
    if (!c->gout[0] || !c->gin[0]) return KN_OK;
    kn_pool2d_desc d;
    gp_desc(c, &d);
    return KN_KCALL(c->k, avgpool2d_bwd, &d, c->gout[0]->data, c->gin[0]->data);
}

static kn_status gmp_forward(kn_op_ctx *c)
{
    kn_pool2d_desc d;
    gp_desc(c, &d);
    kn_tensor *y = c->out[0], *st = &c->state[0];
    int64_t *arg = NULL;
    if (c->training) {
        KN_TRY(kn_tensor_ensure_on(st, KN_INT64, y->ndim, y->shape, c->device, NULL));
        arg = st->data;
    }
    return KN_KCALL(c->k, maxpool2d_fwd, &d, c->in[0]->data, y->data, arg);
}

static kn_status gmp_backward(kn_op_ctx *c)
{
    if (!c->gout[0] || !c->gin[0]) return KN_OK;
    if (!c->state[0].data)
        return kn_node_error(c->node, KN_ERR_INVALID, "backward needs a training-mode forward pass (no argmax kept)");
    kn_pool2d_desc d;
    gp_desc(c, &d);
    return KN_KCALL(c->k, maxpool2d_bwd, &d, c->gout[0]->data, c->state[0].data, c->gin[0]->data);
}

const kn_op_def kn_op_global_average_pool = {
    .name = "GlobalAveragePool", .domain = "", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = gp_infer, .forward = gap_forward, .backward = gap_backward,
};

const kn_op_def kn_op_global_max_pool = {
    .name = "GlobalMaxPool", .domain = "", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = gp_infer, .forward = gmp_forward, .backward = gmp_backward,
};
