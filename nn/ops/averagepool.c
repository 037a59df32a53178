/* AveragePool (ONNX), float: auto_pad, pads, strides, dilations, ceil_mode,
 * count_include_pad. 1-D and 2-D on the avgpool2d kernels, 3-D and up on
 * avgpoolnd. */
#include "nn/ops/window.h"

static kn_status ap_geom(const kn_op_ctx *c, kn_window *win, int64_t *y, bool *cip)
{
    const kn_tensor *x = c->in[0];
    int64_t v;
    KN_TRY(kn_window_check_input(c, x, "X"));
    KN_TRY(kn_window_read(c->node, x->ndim - 2, NULL, true, win));
    KN_TRY(kn_attr_int(c->node, "count_include_pad", 0, &v));
    *cip = v != 0;
    y[0] = x->shape[0];
    y[1] = x->shape[1];
    return kn_window_out_dims(c->node, win, x->shape + 2, y + 2);
}

static kn_status ap_infer(kn_op_ctx *c)
{
    kn_window win;
    int64_t y[KN_MAX_DIMS];
    bool cip;
    KN_TRY(ap_geom(c, &win, y, &cip));
    kn_op_set_out(c, 0, KN_FLOAT, c->in[0]->ndim, y);
    return KN_OK;
}

/* Descriptors for this run; *nd selects the N-d kernels. */
static kn_status ap_desc(const kn_op_ctx *c, bool *nd, kn_pool2d_desc *d2, kn_nd_desc *dn)
{
    kn_window win;
    int64_t y[KN_MAX_DIMS];
    bool cip;
    KN_TRY(ap_geom(c, &win, y, &cip));
    *nd = win.rank > 2;
    if (*nd) kn_window_nd_desc(&win, c->in[0]->shape, y, 1, cip, dn);
    else kn_window_pool_desc(&win, c->in[0]->shape, y, cip, d2);
    return KN_OK;
}

static kn_status ap_forward(kn_op_ctx *c)
{
    kn_pool2d_desc d2;
    kn_nd_desc dn;
    bool nd;
    KN_TRY(ap_desc(c, &nd, &d2, &dn));
    if (nd) return KN_KCALL(c->k, avgpoolnd_fwd, &dn, c->in[0]->data, c->out[0]->data);
    return KN_KCALL(c->k, avgpool2d_fwd, &d2, c->in[0]->data, c->out[0]->data);
}

static kn_status ap_backward(kn_op_ctx *c)
{
    if (!c->gout[0] || !c->gin[0]) return KN_OK;
    kn_pool2d_desc d2;
    kn_nd_desc dn;
    bool nd;
    KN_TRY(ap_desc(c, &nd, &d2, &dn));
    if (nd) return KN_KCALL(c->k, avgpoolnd_bwd, &dn, c->gout[0]->data, c->gin[0]->data);
    return KN_KCALL(c->k, avgpool2d_bwd, &d2, c->gout[0]->data, c->gin[0]->data);
}

const kn_op_def kn_op_averagepool = {
    .name = "AveragePool", .domain = "", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = ap_infer, .forward = ap_forward, .backward = ap_backward,
};
