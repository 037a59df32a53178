/* kiln.FusedConv: Conv with an epilogue, produced by the level-2 optimizer.
 * Inputs X, W, B (optional), Z (optional residual of the output's shape, added
 * before the activation); attributes of Conv plus `activation` and
 * `activation_params` (see kn_fused_activation), and optionally a 2-D max pooling
 * of the activated result: `pool_kernel_shape` [kh, kw] and `pool_strides` (default
 * 1), no padding or dilation (the fuse_pool pass only absorbs such MaxPools; not with
 * Z). Optionally a side 1x1 convolution of the same X (fuse_side_conv: a ResNet
 * block's projection shortcut): inputs 4 and 5 are its weights Ws [M, C, 1, 1] and
 * bias Bs (optional), output 1 is Conv(X, Ws, Bs) with this node's strides, no
 * padding and no activation, the same shape as output 0. The packed CPU kernel
 * computes it in the same pass over X; elsewhere it is a second convolution.
 * Inference only: training graphs keep the unfused ops. */
#include "nn/ops/window.h"

#include <stdint.h>
#include <stdio.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct conv_pool {
    bool on;
    int64_t kh, kw, sh, sw;
} conv_pool;

static kn_status read_pool(const kn_op_ctx *c, conv_pool *p)
{
    int64_t k[2] = {0, 0}, s[2] = {1, 1};
    int nk = -1, ns = -1;
    p->on = false;
    KN_TRY(kn_attr_ints(c->node, "pool_kernel_shape", k, 2, &nk));
    if (nk < 0) return KN_OK;
    KN_TRY(kn_attr_ints(c->node, "pool_strides", s, 2, &ns));
    if (nk != 2 || (ns >= 0 && ns != 2) || k[0] < 1 || k[1] < 1 || s[0] < 1 || s[1] < 1)
        return kn_node_error(c->node, KN_ERR_INVALID, "pool_kernel_shape and pool_strides must be 2 positive values");
    if (c->in[0]->ndim != 4)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "a fused pooling needs a 2-D convolution");
    if (KN_IN(c, 3)) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "a fused pooling cannot follow a residual Z");
    *p = (conv_pool){true, k[0], k[1], s[0], s[1]};
    return KN_OK;
}

static int64_t pooled(int64_t in, int64_t k, int64_t s) { return in == KN_DIM_UNKNOWN ? in : (in - k) / s + 1; }

static bool has_side(const kn_op_ctx *c) { return KN_IN(c, 4) != NULL; }

/* The side 1x1's output dims: the node's strides over X, no padding. */
static kn_status side_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0], *ws = c->in[4], *bs = KN_IN(c, 5), *y = c->out[0];
    char sx[160], sw[160], sy[160];
    if (c->n_out < 2 || !c->out[1])
        return kn_node_error(c->node, KN_ERR_INVALID, "side weights (input 4) need the side output (output 1)");
    if (KN_IN(c, 3) || kn_node_attr(c->node, "pool_kernel_shape"))
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "a side 1x1 convolution cannot go with a residual Z or a pooling");
    int64_t group;
    KN_TRY(kn_attr_int(c->node, "group", 1, &group));
    if (x->ndim != 4 || group != 1)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "a side 1x1 convolution needs a 2-D convolution with group 1");
    if (ws->dtype != KN_FLOAT || ws->ndim != 4 || ws->shape[2] != 1 || ws->shape[3] != 1 ||
        (ws->shape[1] != KN_DIM_UNKNOWN && x->shape[1] != KN_DIM_UNKNOWN && ws->shape[1] != x->shape[1]) ||
        (ws->shape[0] != KN_DIM_UNKNOWN && y->shape[1] != KN_DIM_UNKNOWN && ws->shape[0] != y->shape[1]))
        return kn_node_error(c->node, KN_ERR_SHAPE, "side weights Ws %s must be float [%lld, %lld, 1, 1] for X %s",
                             kn_shape_str(sw, sizeof sw, ws->ndim, ws->shape), (long long)y->shape[1],
                             (long long)x->shape[1], kn_shape_str(sx, sizeof sx, x->ndim, x->shape));
    if (bs && (bs->dtype != KN_FLOAT || bs->ndim != 1 || (bs->shape[0] != KN_DIM_UNKNOWN && bs->shape[0] != ws->shape[0])))
        return kn_node_error(c->node, KN_ERR_SHAPE, "side bias Bs %s must be float [%lld]",
                             kn_shape_str(sw, sizeof sw, bs->ndim, bs->shape), (long long)ws->shape[0]);
    int64_t strides[2] = {1, 1};
    int ns = -1;
    KN_TRY(kn_attr_ints(c->node, "strides", strides, 2, &ns));
    if (strides[0] < 1 || strides[1] < 1)
        return kn_node_error(c->node, KN_ERR_INVALID, "strides must be positive");
    for (int i = 0; i < 2; i++) {
        const int64_t in = x->shape[2 + i], out = y->shape[2 + i];
        if (in != KN_DIM_UNKNOWN && out != KN_DIM_UNKNOWN && (in - 1) / strides[i] + 1 != out)
            return kn_node_error(c->node, KN_ERR_SHAPE, "the side 1x1 convolution of X %s with stride %lld does not give the output's %s",
                                 kn_shape_str(sx, sizeof sx, x->ndim, x->shape), (long long)strides[i],
                                 kn_shape_str(sy, sizeof sy, y->ndim, y->shape));
    }
    kn_op_set_out(c, 1, KN_FLOAT, 4, y->shape);
    return KN_OK;
}

/* The side 1x1 as a convolution of its own: the main geometry with a 1x1 window. */
static void side_geom(const kn_op_ctx *c, const kn_conv_geom *d, kn_conv_geom *s)
{
    *s = *d;
    s->oc = s->d2.oc = c->in[4]->shape[0];
    s->d2.kh = s->d2.kw = 1;
    s->d2.pad_t = s->d2.pad_l = s->d2.pad_b = s->d2.pad_r = 0;
    s->d2.dil_h = s->d2.dil_w = 1;
}

/* Main and side in one pass when the packed kernel takes both, else one after the other. */
static kn_status side_forward(kn_op_ctx *c, kn_act act, float alpha, float beta)
{
    kn_conv_geom d, sd;
    KN_TRY(kn_conv_desc(c, &d));
    side_geom(c, &d, &sd);
    const kn_tensor *x = c->in[0], *b = KN_IN(c, 2), *bs = KN_IN(c, 5);
    kn_epilogue ep = {.bias = b ? b->data : NULL, .bias_per_row = true, .act = act, .alpha = alpha, .beta = beta};
    kn_epilogue sep = {.bias = bs ? bs->data : NULL, .bias_per_row = true};
    const float *packed, *spacked;
    KN_TRY(kn_conv_packed_w(c, &d, &packed));
    KN_TRY(kn_conv_packed_w_at(c, &sd, 4, 1, &spacked));
    if (packed && spacked && c->k->conv2d_fwd_packed && !d.nd && sd.oc == d.oc) {
        const kn_conv_extra side = {.side_packed = spacked, .side_y = c->out[1]->data, .side_ep = &sep};
        const kn_status st = c->k->conv2d_fwd_packed(&d.d2, x->data, packed, c->out[0]->data, &ep, &side, c->ws);
        if (st != KN_ERR_UNSUPPORTED) return st; /* unsupported writes nothing: go the long way */
    }
    KN_TRY(kn_conv_geom_fwd(c->k, &d, x->data, c->in[1]->data, packed, c->out[0]->data, &ep, c->ws));
    return kn_conv_geom_fwd(c->k, &sd, x->data, c->in[4]->data, spacked, c->out[1]->data, &sep, c->ws);
}

static kn_status fused_conv_infer(kn_op_ctx *c)
{
    KN_TRY(kn_conv_infer(c, true));
    if (has_side(c)) return side_infer(c);
    if (c->node->n_outputs > 1)
        return kn_node_error(c->node, KN_ERR_INVALID, "a second output needs the side weights (input 4)");
    conv_pool pl;
    KN_TRY(read_pool(c, &pl));
    if (!pl.on) return KN_OK;
    kn_tensor *y = c->out[0];
    if ((y->shape[2] != KN_DIM_UNKNOWN && y->shape[2] < pl.kh) || (y->shape[3] != KN_DIM_UNKNOWN && y->shape[3] < pl.kw))
        return kn_node_error(c->node, KN_ERR_SHAPE, "the %lldx%lld convolution output is smaller than the %lldx%lld pooling window",
                             (long long)y->shape[2], (long long)y->shape[3], (long long)pl.kh, (long long)pl.kw);
    int64_t shape[4] = {y->shape[0], y->shape[1], pooled(y->shape[2], pl.kh, pl.sh), pooled(y->shape[3], pl.kw, pl.sw)};
    kn_op_set_out(c, 0, KN_FLOAT, 4, shape);
    return KN_OK;
}

/* Pooling: a 2x2 stride-2 pool after a convolution the packed CPU kernel takes is done
 * in its registers (kn_conv_extra.pool2x2: LeNet's conv2 node 4.4-4.5 -> 3.2-3.4 us at
 * batch 1, 134-136 -> 96-99 us at batch 64; kiln bench --compare-levels, old and new
 * builds alternating, about 19:37).
 * Otherwise images split across the threads, each convolved (single-threaded kernels)
 * into its own scratch plane set, still in cache when it is pooled; elsewhere (one image,
 * a GPU, one thread) the whole batch is convolved into the workspace, then pooled. */
static bool per_image(const kn_op_ctx *c)
{
#ifdef _OPENMP
    return c->device == KN_CPU && c->in[0]->shape[0] > 1 && omp_get_max_threads() > 1 && !omp_in_parallel();
#else
    (void)c;
    return false;
#endif
}

static size_t floats_bytes(int64_t n) { return ((size_t)n * sizeof(float) + 63) / 64 * 64; }

static size_t fused_conv_workspace(kn_op_ctx *c)
{
    if (has_side(c)) {
        kn_conv_geom d, sd;
        if (kn_conv_desc(c, &d) != KN_OK) return 0;
        side_geom(c, &d, &sd);
        const size_t a = kn_conv_kernel_ws(c, &d), b = kn_conv_kernel_ws(c, &sd);
        return a > b ? a : b;
    }
    conv_pool pl;
    if (read_pool(c, &pl) != KN_OK || !pl.on) return kn_conv_workspace(c);
    kn_conv_geom d;
    if (kn_conv_desc(c, &d) != KN_OK) return 0;
    const int64_t plane = d.oc * d.ovol; /* one image's convolution output */
    if (!per_image(c)) return kn_conv_kernel_ws(c, &d) + floats_bytes(d.n * plane);
    kn_conv_geom one = d;
    one.n = one.d2.n = 1;
#ifdef _OPENMP
    const size_t threads = (size_t)omp_get_max_threads();
#else
    const size_t threads = 1;
#endif
    return threads * ((kn_conv_geom_ws(c->k, &one) + 63) / 64 * 64 + floats_bytes(plane));
}

static kn_status fused_conv_forward(kn_op_ctx *c)
{
    kn_act act;
    float alpha, beta;
    KN_TRY(kn_fused_activation(c->node, &act, &alpha, &beta));
    if (has_side(c)) return side_forward(c, act, alpha, beta);
    conv_pool pl;
    KN_TRY(read_pool(c, &pl));
    if (!pl.on) return kn_conv_forward(c, KN_IN(c, 3), act, alpha, beta);
    kn_conv_geom d;
    KN_TRY(kn_conv_desc(c, &d));
    const kn_tensor *x = c->in[0], *w = c->in[1], *b = KN_IN(c, 2);
    const kn_tensor *y = c->out[0];
    kn_epilogue ep = {.bias = b ? b->data : NULL, .bias_per_row = true, .act = act, .alpha = alpha, .beta = beta};
    kn_pool2d_desc pd = {.n = d.n, .c = d.oc, .h = d.d2.oh, .w = d.d2.ow, .oh = y->shape[2], .ow = y->shape[3],
                         .kh = pl.kh, .kw = pl.kw, .stride_h = pl.sh, .stride_w = pl.sw, .dil_h = 1, .dil_w = 1};
    const int64_t plane = d.oc * d.ovol, out_plane = d.oc * y->shape[2] * y->shape[3];
    const float *packed;
    KN_TRY(kn_conv_packed_w(c, &d, &packed));
    const bool unpadded = !d.d2.pad_t && !d.d2.pad_l && !d.d2.pad_b && !d.d2.pad_r;
    if (packed && unpadded && pl.kh == 2 && pl.kw == 2 && pl.sh == 2 && pl.sw == 2 && c->k->conv2d_fwd_packed && !d.nd) {
        /* the packed kernel pools 2x2 stride 2 in registers: no convolution output at all.
         * It refuses padded convolutions; asking every run would format that refusal every
         * run, so they go the long way without asking. */
        const kn_conv_extra pool = {.pool2x2 = true};
        const kn_status st = c->k->conv2d_fwd_packed(&d.d2, x->data, packed, y->data, &ep, &pool, c->ws);
        if (st != KN_ERR_UNSUPPORTED) return st; /* unsupported writes nothing: go the long way */
    }
    if (!per_image(c)) {
        float *pre = (float *)((char *)c->ws + kn_conv_kernel_ws(c, &d));
        KN_TRY(kn_conv_geom_fwd(c->k, &d, x->data, w->data, packed, pre, &ep, c->ws));
        return KN_KCALL(c->k, maxpool2d_fwd, &pd, pre, y->data, NULL);
    }
    kn_conv_geom one = d;
    one.n = one.d2.n = 1;
    pd.n = 1;
    const size_t per = (kn_conv_geom_ws(c->k, &one) + 63) / 64 * 64 + floats_bytes(plane);
    const size_t image_in = (size_t)(d.c * d.vol);
    kn_status st = KN_OK;
    char msg[512] = "";
#ifdef _OPENMP
#pragma omp parallel
#endif
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
        omp_set_num_threads(1); /* the kernels stay on this thread */
#endif
        char *ws = (char *)c->ws + (size_t)t * per;
        float *pre = (float *)(ws + (kn_conv_geom_ws(c->k, &one) + 63) / 64 * 64);
        kn_status mine = KN_OK;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t i = 0; i < d.n; i++) {
            if (mine != KN_OK) continue;
            mine = kn_conv_geom_fwd(c->k, &one, (const float *)x->data + (size_t)i * image_in, w->data, packed, pre, &ep, ws);
            if (mine == KN_OK)
                mine = KN_KCALL(c->k, maxpool2d_fwd, &pd, pre, (float *)y->data + (size_t)(i * out_plane), NULL);
        }
        if (mine != KN_OK) {
#ifdef _OPENMP
#pragma omp critical(kn_fused_conv_err)
#endif
            {
                st = mine;
                snprintf(msg, sizeof msg, "%s", kn_last_error()); /* the message is per thread */
            }
        }
    }
    return st == KN_OK ? KN_OK : kn_error(st, "%s", msg);
}

const kn_op_def kn_op_fused_conv = {
    .name = "FusedConv", .domain = "kiln", .min_inputs = 2, .max_inputs = 6, .min_outputs = 1, .max_outputs = 2,
    .infer = fused_conv_infer, .forward = fused_conv_forward, .workspace = fused_conv_workspace,
};
