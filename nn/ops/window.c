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

kn_status kn_window_check_input(const kn_op_ctx *c, const kn_tensor *x, const char *what)
{
    char s[160];
    if (x->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "%s is %s; only float is supported", what,
                             kn_dtype_name(x->dtype));
    if (x->ndim < 3)
        return kn_node_error(c->node, KN_ERR_SHAPE, "%s %s must be [N, C, spatial...] with rank >= 3", what,
                             kn_shape_str(s, sizeof s, x->ndim, x->shape));
    if (x->ndim > 4)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "%d-D %s (%s %s) is not supported; only 1-D and 2-D",
                             x->ndim - 2, c->node->op_type, what, kn_shape_str(s, sizeof s, x->ndim, x->shape));
    return KN_OK;
}
