/* Sliding-window geometry for the conv and pooling ops (see window.h). */
#include "nn/ops/window.h"

#include <string.h>

static kn_status read_dims(const kn_node *n, const char *name, int want, int64_t def, int64_t min,
                           int64_t *out)
{
    int cnt;
    KN_TRY(kn_attr_ints(n, name, out, KN_MAX_DIMS * 2, &cnt));
    if (cnt < 0) {
        for (int i = 0; i < want; i++) out[i] = def;
        return KN_OK;
    }
    if (cnt != want)
        return kn_node_error(n, KN_ERR_INVALID, "attribute '%s' has %d values, expected %d", name, cnt, want);
    for (int i = 0; i < want; i++)
        if (out[i] < min)
            return kn_node_error(n, KN_ERR_INVALID, "attribute '%s'[%d] = %lld must be >= %lld", name, i,
                                 (long long)out[i], (long long)min);
    return KN_OK;
}

kn_status kn_window_read(const kn_node *n, int rank, const int64_t *kernel_from_w, bool pooling, kn_window *w)
{
    memset(w, 0, sizeof *w);
    w->rank = rank;
    int64_t tmp[KN_MAX_DIMS * 2];
    int cnt;
    KN_TRY(kn_attr_ints(n, "kernel_shape", tmp, KN_MAX_DIMS * 2, &cnt));
    if (cnt < 0 && !kernel_from_w)
        return kn_node_error(n, KN_ERR_INVALID, "attribute 'kernel_shape' is required");
    if (cnt >= 0 && cnt != rank)
        return kn_node_error(n, KN_ERR_INVALID, "kernel_shape has %d values for %d spatial dims", cnt, rank);
    for (int i = 0; i < rank; i++) {
        int64_t k = cnt >= 0 ? tmp[i] : kernel_from_w[i];
        if (cnt >= 0 && k < 1)
            return kn_node_error(n, KN_ERR_INVALID, "kernel_shape[%d] = %lld must be >= 1", i, (long long)k);
        if (cnt >= 0 && kernel_from_w && kernel_from_w[i] != KN_DIM_UNKNOWN && kernel_from_w[i] != k)
            return kn_node_error(n, KN_ERR_SHAPE, "kernel_shape[%d] = %lld disagrees with W's spatial dim %lld", i,
                                 (long long)k, (long long)kernel_from_w[i]);
        w->kernel[i] = k;
    }
    KN_TRY(read_dims(n, "strides", rank, 1, 1, w->stride));
    KN_TRY(read_dims(n, "dilations", rank, 1, 1, w->dil));
    KN_TRY(read_dims(n, "pads", 2 * rank, 0, 0, tmp));
    bool any_pad = false;
    for (int i = 0; i < rank; i++) {
        w->pad_begin[i] = tmp[i];
        w->pad_end[i] = tmp[rank + i];
        any_pad |= tmp[i] || tmp[rank + i];
    }
    const char *ap;
    KN_TRY(kn_attr_string(n, "auto_pad", "NOTSET", &ap));
    if (!strcmp(ap, "NOTSET") || !*ap) w->auto_pad = KN_AUTOPAD_NOTSET;
    else if (!strcmp(ap, "SAME_UPPER")) w->auto_pad = KN_AUTOPAD_SAME_UPPER;
    else if (!strcmp(ap, "SAME_LOWER")) w->auto_pad = KN_AUTOPAD_SAME_LOWER;
    else if (!strcmp(ap, "VALID")) w->auto_pad = KN_AUTOPAD_VALID;
    else return kn_node_error(n, KN_ERR_INVALID, "auto_pad '%s' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", ap);
    if (w->auto_pad != KN_AUTOPAD_NOTSET && any_pad)
        return kn_node_error(n, KN_ERR_INVALID, "explicit pads cannot be combined with auto_pad '%s'", ap);
    if (pooling) {
        int64_t cm;
        KN_TRY(kn_attr_int(n, "ceil_mode", 0, &cm));
        w->ceil_mode = cm != 0;
    }
    return KN_OK;
}

kn_status kn_window_out_dims(const kn_node *n, kn_window *w, const int64_t *in, int64_t *out)
{
    for (int i = 0; i < w->rank; i++) {
        const int64_t x = in[i], k = w->kernel[i], s = w->stride[i];
        if (x == KN_DIM_UNKNOWN || k == KN_DIM_UNKNOWN) { out[i] = KN_DIM_UNKNOWN; continue; }
        const int64_t eff = w->dil[i] * (k - 1) + 1; /* dilated kernel extent */
        if (w->auto_pad == KN_AUTOPAD_SAME_UPPER || w->auto_pad == KN_AUTOPAD_SAME_LOWER) {
            int64_t o = (x + s - 1) / s, total = (o - 1) * s + eff - x;
            if (total < 0) total = 0;
            int64_t small = total / 2;
            w->pad_begin[i] = w->auto_pad == KN_AUTOPAD_SAME_UPPER ? small : total - small;
            w->pad_end[i] = total - w->pad_begin[i];
            out[i] = o;
            continue;
        }
        if (w->auto_pad == KN_AUTOPAD_VALID) w->pad_begin[i] = w->pad_end[i] = 0;
        const int64_t span = x + w->pad_begin[i] + w->pad_end[i] - eff;
        if (span < 0)
            return kn_node_error(n, KN_ERR_SHAPE,
                                 "spatial dim %d: window %lld (dilation %lld) exceeds the padded input %lld + %lld + %lld",
                                 i, (long long)k, (long long)w->dil[i], (long long)w->pad_begin[i], (long long)x,
                                 (long long)w->pad_end[i]);
        int64_t o = (w->ceil_mode ? (span + s - 1) / s : span / s) + 1;
        /* ceil_mode: the last window must start inside the input or its leading padding */
        if (w->ceil_mode && (o - 1) * s >= x + w->pad_begin[i]) o--;
        out[i] = o;
    }
    return KN_OK;
}

void kn_window_conv_desc(const kn_window *w, const int64_t *xshape, const int64_t *yshape, int64_t group,
                         kn_conv2d_desc *d)
{
    const int r = w->rank, o = r == 1 ? 0 : 1; /* index of the w axis among the spatial dims */
    memset(d, 0, sizeof *d);
    d->n = xshape[0];
    d->c = xshape[1];
    d->oc = yshape[1];
    d->h = r == 1 ? 1 : xshape[2];
    d->w = xshape[2 + o];
    d->oh = r == 1 ? 1 : yshape[2];
    d->ow = yshape[2 + o];
    d->kh = r == 1 ? 1 : w->kernel[0];
    d->kw = w->kernel[o];
    d->stride_h = r == 1 ? 1 : w->stride[0];
    d->stride_w = w->stride[o];
    d->dil_h = r == 1 ? 1 : w->dil[0];
    d->dil_w = w->dil[o];
    d->pad_t = r == 1 ? 0 : w->pad_begin[0];
    d->pad_b = r == 1 ? 0 : w->pad_end[0];
    d->pad_l = w->pad_begin[o];
    d->pad_r = w->pad_end[o];
    d->group = group;
}

void kn_window_pool_desc(const kn_window *w, const int64_t *xshape, const int64_t *yshape,
                         bool count_include_pad, kn_pool2d_desc *d)
{
    kn_conv2d_desc cd;
    kn_window_conv_desc(w, xshape, yshape, 1, &cd);
    memset(d, 0, sizeof *d);
    d->n = cd.n;
    d->c = cd.c;
    d->h = cd.h;
    d->w = cd.w;
    d->oh = cd.oh;
    d->ow = cd.ow;
    d->kh = cd.kh;
    d->kw = cd.kw;
    d->stride_h = cd.stride_h;
    d->stride_w = cd.stride_w;
    d->pad_t = cd.pad_t;
    d->pad_l = cd.pad_l;
    d->pad_b = cd.pad_b;
    d->pad_r = cd.pad_r;
    d->dil_h = cd.dil_h;
    d->dil_w = cd.dil_w;
    d->count_include_pad = count_include_pad;
}

kn_status kn_window_check_rank(const kn_op_ctx *c, const kn_tensor *x, const char *what)
{
    char s[160];
    if (x->ndim < 3)
        return kn_node_error(c->node, KN_ERR_SHAPE, "%s %s must be [N, C, spatial...] with rank >= 3", what,
                             kn_shape_str(s, sizeof s, x->ndim, x->shape));
    return KN_OK;
}

kn_status kn_window_check_input(const kn_op_ctx *c, const kn_tensor *x, const char *what)
{
    if (x->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "%s is %s; only float is supported", what,
                             kn_dtype_name(x->dtype));
    return kn_window_check_rank(c, x, what);
}

void kn_window_nd_desc(const kn_window *w, const int64_t *xshape, const int64_t *yshape, int64_t group,
                       bool count_include_pad, kn_nd_desc *d)
{
    memset(d, 0, sizeof *d);
    d->rank = w->rank;
    d->n = xshape[0];
    d->c = xshape[1];
    d->oc = yshape[1];
    d->group = group;
    d->count_include_pad = count_include_pad;
    for (int i = 0; i < w->rank; i++) {
        d->in[i] = xshape[2 + i];
        d->out[i] = yshape[2 + i];
        d->k[i] = w->kernel[i];
        d->stride[i] = w->stride[i];
        d->dil[i] = w->dil[i];
        d->pad_begin[i] = w->pad_begin[i];
        d->pad_end[i] = w->pad_end[i];
    }
}

void kn_conv_geom_init(const kn_window *w, const int64_t *xshape, const int64_t *yshape, int64_t group,
                       kn_conv_geom *g)
{
    memset(g, 0, sizeof *g);
    g->nd = w->rank > 2;
    if (g->nd) kn_window_nd_desc(w, xshape, yshape, group, false, &g->dn);
    else kn_window_conv_desc(w, xshape, yshape, group, &g->d2);
    g->n = xshape[0];
    g->c = xshape[1];
    g->oc = yshape[1];
    g->vol = g->ovol = 1;
    for (int i = 0; i < w->rank; i++) {
        g->vol *= xshape[2 + i];
        g->ovol *= yshape[2 + i];
    }
}

size_t kn_conv_geom_ws(const kn_kernels *k, const kn_conv_geom *g)
{
    if (g->nd) return k->convnd_workspace ? k->convnd_workspace(&g->dn) : 0;
    return k->conv2d_workspace ? k->conv2d_workspace(&g->d2) : 0;
}

kn_status kn_conv_geom_fwd(const kn_kernels *k, const kn_conv_geom *g, const float *x, const float *w,
                           const float *packed, float *y, const kn_epilogue *ep, void *ws)
{
    if (g->nd) return KN_KCALL(k, convnd_fwd, &g->dn, x, w, y, ep, ws);
    if (packed && k->conv2d_fwd_packed) return k->conv2d_fwd_packed(&g->d2, x, packed, y, ep, NULL, ws);
    return KN_KCALL(k, conv2d_fwd, &g->d2, x, w, y, ep, ws);
}

kn_status kn_conv_packed_w(kn_op_ctx *c, const kn_conv_geom *d, const float **packed)
{
    return kn_conv_packed_w_at(c, d, 1, 0, packed);
}

kn_status kn_conv_packed_w_at(kn_op_ctx *c, const kn_conv_geom *d, int input, int slot, const float **packed)
{
    *packed = NULL;
    const int wid = c->node->n_inputs > input ? c->node->inputs[input] : -1;
    if (!c->prepack || d->nd || !c->k->conv2d_packed_floats || !c->k->conv2d_pack_w || wid < 0) return KN_OK;
    const kn_value_kind kind = c->graph->values[wid].kind;
    if (kind != KN_VALUE_PARAM && kind != KN_VALUE_CONST) return KN_OK;
    const int64_t floats = c->k->conv2d_packed_floats(&d->d2);
    if (floats <= 0) return KN_OK;
    kn_tensor *st = &c->state[slot];
    bool fresh;
    KN_TRY(kn_tensor_ensure_on(st, KN_FLOAT, 1, &floats, c->device, &fresh));
    kn_status s = fresh ? c->k->conv2d_pack_w(&d->d2, c->in[input]->data, st->data) : KN_OK;
    if (s != KN_OK) {
        kn_tensor_release(st); /* a half-packed copy must not be reused */
        return s;
    }
    *packed = st->data;
    return KN_OK;
}

kn_status kn_conv_geom_bwd_data(const kn_kernels *k, const kn_conv_geom *g, const float *w, const float *gy,
                                float *gx, void *ws)
{
    if (g->nd) return KN_KCALL(k, convnd_bwd_data, &g->dn, w, gy, gx, ws);
    return KN_KCALL(k, conv2d_bwd_data, &g->d2, w, gy, gx, ws);
}

kn_status kn_conv_geom_bwd_filter(const kn_kernels *k, const kn_conv_geom *g, const float *x, const float *gy,
                                  float *gw, float *gb, void *ws)
{
    if (g->nd) return KN_KCALL(k, convnd_bwd_filter, &g->dn, x, gy, gw, gb, ws);
    return KN_KCALL(k, conv2d_bwd_filter, &g->d2, x, gy, gw, gb, ws);
}
