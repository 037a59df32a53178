/* Conv (ONNX): 1-D and 2-D on the conv2d kernels (1-D maps to h = 1), 3-D and
 * up on the convnd kernels. Inference and forward are shared with
 * kiln.FusedConv (fused_conv.c), which adds a residual input and an activation
 * epilogue. */
#include "nn/ops/window.h"

#include <string.h>

static kn_status conv_group(const kn_node *n, int64_t *group)
{
    KN_TRY(kn_attr_int(n, "group", 1, group));
    if (*group < 1) return kn_node_error(n, KN_ERR_INVALID, "group = %lld must be >= 1", (long long)*group);
    return KN_OK;
}

kn_status kn_conv_infer(kn_op_ctx *c, bool fused)
{
    const kn_tensor *x = c->in[0], *w = c->in[1], *b = KN_IN(c, 2), *z = fused ? KN_IN(c, 3) : NULL;
    char sx[160], sw[160], sy[160];
    KN_TRY(kn_window_check_input(c, x, "X"));
    if (w->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "W is %s; only float is supported", kn_dtype_name(w->dtype));
    if (w->ndim != x->ndim)
        return kn_node_error(c->node, KN_ERR_SHAPE, "W %s must have the rank of X %s",
                             kn_shape_str(sw, sizeof sw, w->ndim, w->shape), kn_shape_str(sx, sizeof sx, x->ndim, x->shape));
    int64_t group;
    KN_TRY(conv_group(c->node, &group));
    const int64_t C = x->shape[1], M = w->shape[0], WC = w->shape[1];
    if (C != KN_DIM_UNKNOWN && WC != KN_DIM_UNKNOWN && C != WC * group)
        return kn_node_error(c->node, KN_ERR_SHAPE, "X %s has %lld channels but W %s with group %lld expects %lld",
                             kn_shape_str(sx, sizeof sx, x->ndim, x->shape), (long long)C,
                             kn_shape_str(sw, sizeof sw, w->ndim, w->shape), (long long)group, (long long)(WC * group));
    if (M != KN_DIM_UNKNOWN && M % group)
        return kn_node_error(c->node, KN_ERR_SHAPE, "W %s: %lld output channels do not divide into %lld groups",
                             kn_shape_str(sw, sizeof sw, w->ndim, w->shape), (long long)M, (long long)group);
    kn_window win;
    KN_TRY(kn_window_read(c->node, x->ndim - 2, w->shape + 2, false, &win));
    int64_t y[KN_MAX_DIMS];
    y[0] = x->shape[0];
    y[1] = M;
    KN_TRY(kn_window_out_dims(c->node, &win, x->shape + 2, y + 2));
    if (b) {
        if (b->dtype != KN_FLOAT)
            return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "B is %s; only float is supported", kn_dtype_name(b->dtype));
        if (b->ndim != 1 || (b->shape[0] != KN_DIM_UNKNOWN && M != KN_DIM_UNKNOWN && b->shape[0] != M))
            return kn_node_error(c->node, KN_ERR_SHAPE, "B %s must be [%lld], one value per output channel",
                                 kn_shape_str(sx, sizeof sx, b->ndim, b->shape), (long long)M);
    }
    if (z) {
        bool ok = z->dtype == KN_FLOAT && z->ndim == x->ndim;
        for (int i = 0; ok && i < z->ndim; i++)
            ok = z->shape[i] == y[i] || z->shape[i] == KN_DIM_UNKNOWN || y[i] == KN_DIM_UNKNOWN;
        if (!ok)
            return kn_node_error(c->node, KN_ERR_SHAPE, "residual Z %s (%s) must be float with the output's shape %s",
                                 kn_shape_str(sx, sizeof sx, z->ndim, z->shape), kn_dtype_name(z->dtype),
                                 kn_shape_str(sy, sizeof sy, x->ndim, y));
    }
    kn_op_set_out(c, 0, KN_FLOAT, x->ndim, y);
    return KN_OK;
}

/* The kernel descriptor for the concrete shapes of this run. */
kn_status kn_conv_desc(const kn_op_ctx *c, kn_conv_geom *d)
{
    const kn_tensor *x = c->in[0], *w = c->in[1];
    int64_t group, out[KN_MAX_DIMS];
    kn_window win;
    KN_TRY(conv_group(c->node, &group));
    KN_TRY(kn_window_read(c->node, x->ndim - 2, w->shape + 2, false, &win));
    KN_TRY(kn_window_out_dims(c->node, &win, x->shape + 2, out));
    int64_t y[KN_MAX_DIMS] = {x->shape[0], w->shape[0]};
    for (int i = 0; i < win.rank; i++) y[2 + i] = out[i];
    kn_conv_geom_init(&win, x->shape, y, group, d);
    return KN_OK;
}

/* Kernel scratch, then (backward) a throwaway weight gradient for when only B needs one. */
size_t kn_conv_kernel_ws(const kn_op_ctx *c, const kn_conv_geom *d)
{
    size_t b = kn_conv_geom_ws(c->k, d);
    return (b + 63) / 64 * 64;
}

size_t kn_conv_workspace(kn_op_ctx *c)
{
    kn_conv_geom d;
    if (kn_conv_desc(c, &d) != KN_OK) return 0;
    size_t extra = c->gin ? sizeof(float) * (size_t)kn_tensor_numel(c->in[1]) : 0;
    return kn_conv_kernel_ws(c, &d) + extra;
}

kn_status kn_conv_forward(kn_op_ctx *c, const kn_tensor *residual, kn_act act, float alpha, float beta)
{
    const kn_tensor *x = c->in[0], *w = c->in[1], *b = KN_IN(c, 2);
    kn_conv_geom d;
    KN_TRY(kn_conv_desc(c, &d));
    kn_epilogue ep = {.bias = b ? b->data : NULL, .bias_per_row = true,
                      .residual = residual ? residual->data : NULL, .act = act, .alpha = alpha, .beta = beta};
    const float *packed;
    KN_TRY(kn_conv_packed_w(c, &d, &packed));
    return kn_conv_geom_fwd(c->k, &d, x->data, w->data, packed, c->out[0]->data, &ep, c->ws);
}

static kn_status conv_infer(kn_op_ctx *c) { return kn_conv_infer(c, false); }
static kn_status conv_forward(kn_op_ctx *c) { return kn_conv_forward(c, NULL, KN_ACT_NONE, 0, 0); }

static kn_status conv_backward(kn_op_ctx *c)
{
    const kn_tensor *gy = c->gout[0];
    if (!gy) return KN_OK;
    kn_conv_geom d;
    KN_TRY(kn_conv_desc(c, &d));
    kn_tensor *gx = c->gin[0], *gw = c->gin[1], *gb = c->n_in > 2 && c->in[2] ? c->gin[2] : NULL;
    if (gx) KN_TRY(kn_conv_geom_bwd_data(c->k, &d, c->in[1]->data, gy->data, gx->data, c->ws));
    if (gw || gb) {
        float *gwp = gw ? gw->data : (float *)((char *)c->ws + kn_conv_kernel_ws(c, &d));
        KN_TRY(kn_conv_geom_bwd_filter(c->k, &d, c->in[0]->data, gy->data, gwp, gb ? gb->data : NULL, c->ws));
    }
    return KN_OK;
}

const kn_op_def kn_op_conv = {
    .name = "Conv", .domain = "", .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = conv_infer, .forward = conv_forward, .backward = conv_backward, .workspace = kn_conv_workspace,
};
