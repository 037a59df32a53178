/* ConvTranspose (ONNX), 1-D, 2-D and 3-D (N-d kernels). A transposed convolution is the data
 * gradient of the convolution that maps its output back to its input, so the
 * forward pass is conv2d_bwd_data of that convolution (Y = 0, then += W^T X,
 * then the bias), and the backward pass uses conv2d_fwd (dX) and
 * conv2d_bwd_filter (dW). W is [C, M/group, k...]: exactly the forward conv's
 * weight layout. */
#include "nn/ops/window.h"

#include <stdlib.h>
#include <string.h>

typedef struct ct_geom {
    kn_window win;
    int64_t group;
    int64_t y[KN_MAX_DIMS]; /* output shape, KN_DIM_UNKNOWN where not known */
} ct_geom;

static kn_status ct_resolve(const kn_op_ctx *c, ct_geom *g)
{
    const kn_node *n = c->node;
    const kn_tensor *x = c->in[0], *w = c->in[1];
    const int r = x->ndim - 2;
    char sx[160], sw[160];
    KN_TRY(kn_attr_int(n, "group", 1, &g->group));
    if (g->group < 1) return kn_node_error(n, KN_ERR_INVALID, "group = %lld must be >= 1", (long long)g->group);
    if (w->ndim != x->ndim)
        return kn_node_error(n, KN_ERR_SHAPE, "W %s must have the rank of X %s",
                             kn_shape_str(sw, sizeof sw, w->ndim, w->shape), kn_shape_str(sx, sizeof sx, x->ndim, x->shape));
    const int64_t C = x->shape[1], WC = w->shape[0];
    if (C != KN_DIM_UNKNOWN && WC != KN_DIM_UNKNOWN && (C != WC || C % g->group))
        return kn_node_error(n, KN_ERR_SHAPE, "X %s has %lld channels; W %s needs %lld, divisible by group %lld",
                             kn_shape_str(sx, sizeof sx, x->ndim, x->shape), (long long)C,
                             kn_shape_str(sw, sizeof sw, w->ndim, w->shape), (long long)WC, (long long)g->group);
    KN_TRY(kn_window_read(n, r, w->shape + 2, false, &g->win));
    kn_window *win = &g->win;
    int64_t opad[KN_MAX_DIMS * 2], oshape[KN_MAX_DIMS * 2];
    int nop, nos;
    KN_TRY(kn_attr_ints(n, "output_padding", opad, KN_MAX_DIMS * 2, &nop));
    KN_TRY(kn_attr_ints(n, "output_shape", oshape, KN_MAX_DIMS * 2, &nos));
    if (nop < 0) { nop = r; for (int i = 0; i < r; i++) opad[i] = 0; }
    if (nop != r) return kn_node_error(n, KN_ERR_INVALID, "output_padding has %d values for %d spatial dims", nop, r);
    /* output_shape may list the spatial dims or the full [N, M, spatial...] shape */
    if (nos >= 0 && nos != r && nos != r + 2)
        return kn_node_error(n, KN_ERR_INVALID, "output_shape has %d values for %d spatial dims", nos, r);
    const int64_t *os = nos == r + 2 ? oshape + 2 : oshape;
    g->y[0] = x->shape[0];
    g->y[1] = w->shape[1] == KN_DIM_UNKNOWN ? KN_DIM_UNKNOWN : w->shape[1] * g->group;
    for (int i = 0; i < r; i++) {
        const int64_t in = x->shape[2 + i], k = win->kernel[i], s = win->stride[i], d = win->dil[i];
        if (opad[i] < 0 || (opad[i] >= s && opad[i] >= d))
            return kn_node_error(n, KN_ERR_INVALID, "output_padding[%d] = %lld must be below the stride or dilation", i,
                                 (long long)opad[i]);
        if (in == KN_DIM_UNKNOWN || k == KN_DIM_UNKNOWN) {
            g->y[2 + i] = nos >= 0 ? os[i] : KN_DIM_UNKNOWN;
            continue;
        }
        const int64_t full = s * (in - 1) + opad[i] + (k - 1) * d + 1; /* output with no padding */
        if (nos >= 0 || win->auto_pad == KN_AUTOPAD_SAME_UPPER || win->auto_pad == KN_AUTOPAD_SAME_LOWER) {
            const int64_t out = nos >= 0 ? os[i] : in * s, total = full - out;
            /* ONNX: SAME_UPPER pads the start less. An output_shape beyond the full output makes
             * total negative: floor division then puts the extra rows at the end (they get only
             * the bias), as the ONNX reference does; the kernels take negative pads as shifts. */
            const int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
            win->pad_begin[i] = win->auto_pad == KN_AUTOPAD_SAME_UPPER ? half : total - half;
            win->pad_end[i] = total - win->pad_begin[i];
            g->y[2 + i] = out;
        } else {
            if (win->auto_pad == KN_AUTOPAD_VALID) win->pad_begin[i] = win->pad_end[i] = 0;
            g->y[2 + i] = full - win->pad_begin[i] - win->pad_end[i];
        }
        if (g->y[2 + i] < 1)
            return kn_node_error(n, KN_ERR_SHAPE, "spatial dim %d: output size %lld is not positive", i,
                                 (long long)g->y[2 + i]);
    }
    return KN_OK;
}

static kn_status ct_infer(kn_op_ctx *c)
{
    const kn_tensor *w = c->in[1], *b = KN_IN(c, 2);
    char s[160];
    KN_TRY(kn_window_check_input(c, c->in[0], "X"));
    if (w->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "W is %s; only float is supported", kn_dtype_name(w->dtype));
    ct_geom g;
    KN_TRY(ct_resolve(c, &g));
    if (b && (b->dtype != KN_FLOAT || b->ndim != 1 ||
              (b->shape[0] != KN_DIM_UNKNOWN && g.y[1] != KN_DIM_UNKNOWN && b->shape[0] != g.y[1])))
        return kn_node_error(c->node, KN_ERR_SHAPE, "B %s (%s) must be float [%lld], one value per output channel",
                             kn_shape_str(s, sizeof s, b->ndim, b->shape), kn_dtype_name(b->dtype), (long long)g.y[1]);
    kn_op_set_out(c, 0, KN_FLOAT, c->in[0]->ndim, g.y);
    return KN_OK;
}

/* The convolution whose input is our output Y and whose output is our input X. */
static kn_status ct_desc(const kn_op_ctx *c, kn_conv_geom *d)
{
    ct_geom g;
    KN_TRY(ct_resolve(c, &g));
    kn_conv_geom_init(&g.win, g.y, c->in[0]->shape, g.group, d);
    return KN_OK;
}

static size_t align64(size_t b) { return (b + 63) / 64 * 64; }

/* Layout: kernel scratch | (backward) dX temp [n, C, in...] | ones | per-(n, M) sums. */
static size_t ct_workspace(kn_op_ctx *c)
{
    kn_conv_geom d;
    if (ct_desc(c, &d) != KN_OK) return 0;
    size_t b = align64(kn_conv_geom_ws(c->k, &d));
    if (c->gin) {
        int64_t hw = d.vol, ones = hw > d.n ? hw : d.n;
        b += align64(sizeof(float) * (size_t)kn_tensor_numel(c->in[0])) + align64(sizeof(float) * (size_t)ones) +
             align64(sizeof(float) * (size_t)(d.n * d.c));
    }
    return b;
}

/* y[n, M, plane] += b[M] through the broadcasting binary kernel (in place). */
static kn_status add_channel_bias(const kn_op_ctx *c, const kn_conv_geom *d, float *y, const float *b)
{
    int64_t ys[3] = {d->n, d->c, d->vol}, bs[2] = {d->c, 1};
    kn_bcast bc;
    KN_TRY(kn_bcast_init(&bc, 3, ys, 2, bs));
    return KN_KCALL(c->k, binary, KN_BIN_ADD, KN_FLOAT, &bc, y, b, y);
}

static kn_status ct_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0], *w = c->in[1], *b = KN_IN(c, 2);
    kn_tensor *y = c->out[0];
    kn_conv_geom d;
    KN_TRY(ct_desc(c, &d));
    KN_TRY(KN_KCALL(c->k, memset0, y->data, kn_tensor_bytes(y)));
    KN_TRY(kn_conv_geom_bwd_data(c->k, &d, w->data, x->data, y->data, c->ws));
    if (b) KN_TRY(add_channel_bias(c, &d, y->data, b->data));
    return KN_OK;
}

static kn_status fill_ones(const kn_op_ctx *c, float *dst, int64_t n)
{
    float *h = malloc(sizeof(float) * (size_t)(n ? n : 1));
    if (!h) return kn_error(KN_ERR_NOMEM, "out of memory for %lld floats", (long long)n);
    for (int64_t i = 0; i < n; i++) h[i] = 1.0f;
    kn_status st = KN_KCALL(c->k, memcpy_h2d, dst, h, sizeof(float) * (size_t)n);
    free(h);
    return st;
}

static kn_status ct_backward(kn_op_ctx *c)
{
    const kn_tensor *gy = c->gout[0], *x = c->in[0], *w = c->in[1];
    if (!gy) return KN_OK;
    kn_conv_geom d;
    KN_TRY(ct_desc(c, &d));
    char *ws = c->ws;
    size_t kb = align64(kn_conv_geom_ws(c->k, &d));
    float *tmp = (float *)(ws + kb);
    float *ones = (float *)(ws + kb + align64(sizeof(float) * (size_t)kn_tensor_numel(x)));
    const int64_t hw = d.vol, nones = hw > d.n ? hw : d.n;
    float *sums = ones + align64(sizeof(float) * (size_t)nones) / sizeof(float);
    if (c->gin[0]) { /* dX = conv(dY, W), added to what dX already holds */
        kn_epilogue none = {0};
        KN_TRY(kn_conv_geom_fwd(c->k, &d, gy->data, w->data, NULL, tmp, &none, c->ws));
        kn_bcast bc;
        KN_TRY(kn_bcast_init(&bc, x->ndim, x->shape, x->ndim, x->shape));
        KN_TRY(KN_KCALL(c->k, binary, KN_BIN_ADD, KN_FLOAT, &bc, c->gin[0]->data, tmp, c->gin[0]->data));
    }
    if (c->gin[1]) KN_TRY(kn_conv_geom_bwd_filter(c->k, &d, gy->data, x->data, c->gin[1]->data, NULL, c->ws));
    if (c->n_in > 2 && c->in[2] && c->gin[2]) { /* dB[M] += sum over n and the plane: two GEMVs as GEMMs */
        KN_TRY(fill_ones(c, ones, nones));
        KN_TRY(KN_KCALL(c->k, gemm, false, false, d.n * d.c, 1, hw, 1.0f, gy->data, hw, ones, 1, 0.0f, sums, 1, NULL));
        KN_TRY(KN_KCALL(c->k, gemm, false, false, 1, d.c, d.n, 1.0f, ones, d.n, sums, d.c, 1.0f, c->gin[2]->data, d.c,
                        NULL));
    }
    return KN_OK;
}

const kn_op_def kn_op_conv_transpose = {
    .name = "ConvTranspose", .domain = "", .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = ct_infer, .forward = ct_forward, .backward = ct_backward, .workspace = ct_workspace,
};
