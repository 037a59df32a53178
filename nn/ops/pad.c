/* Pad (ONNX). Opsets < 11: `pads` (opset 1: `paddings`) and `value`
 * attributes. 11+: int64 `pads` input, optional `constant_value` input
 * (a scalar of the data type), and from 18 an optional `axes` input the pads
 * apply to. Modes constant (default), reflect, edge, and wrap (opset 19).
 * Negative pads crop. Any dtype forward; float32 backward (every mode) with
 * respect to the data. */
#include "nn/ops/host_scalar.h"

#include <string.h>

typedef struct pad_args {
    kn_pad_mode mode;
    int64_t begin[KN_MAX_DIMS], end[KN_MAX_DIMS];
} pad_args;

static kn_status read_mode(const kn_op_ctx *c, kn_pad_mode *mode)
{
    const char *m;
    KN_TRY(kn_attr_string(c->node, "mode", "constant", &m));
    if (!strcmp(m, "constant")) *mode = KN_PAD_CONSTANT;
    else if (!strcmp(m, "reflect")) *mode = KN_PAD_REFLECT;
    else if (!strcmp(m, "edge")) *mode = KN_PAD_EDGE;
    else if (!strcmp(m, "wrap") && c->opset >= 19) *mode = KN_PAD_WRAP;
    else if (!strcmp(m, "wrap"))
        return kn_node_error(c->node, KN_ERR_INVALID, "mode 'wrap' needs opset 19 (model has %d)", c->opset);
    else return kn_node_error(c->node, KN_ERR_INVALID, "unknown mode '%s'", m);
    return KN_OK;
}

/* Pads per dim of x (rank r) from the attribute or the pads/axes inputs. */
static kn_status read_pads(const kn_op_ctx *c, pad_args *p)
{
    const kn_tensor *x = c->in[0];
    const int r = x->ndim;
    int64_t raw[2 * KN_MAX_DIMS];
    int count;
    int axes[KN_MAX_DIMS], naxes = r;
    KN_TRY(read_mode(c, &p->mode));
    for (int d = 0; d < r; d++) axes[d] = d;
    if (c->opset < 11) {
        KN_TRY(kn_attr_ints(c->node, "pads", raw, 2 * KN_MAX_DIMS, &count));
        if (count < 0) KN_TRY(kn_attr_ints(c->node, "paddings", raw, 2 * KN_MAX_DIMS, &count));
        if (count < 0) return kn_node_error(c->node, KN_ERR_INVALID, "the pads attribute is required");
    } else {
        const kn_tensor *pt = KN_IN(c, 1), *at = KN_IN(c, 3);
        if (!pt) return kn_node_error(c->node, KN_ERR_INVALID, "the pads input is required");
        if (pt->dtype != KN_INT64 || pt->ndim != 1)
            return kn_node_error(c->node, KN_ERR_SHAPE, "pads must be a 1-D int64 tensor, got %s of rank %d",
                                 kn_dtype_name(pt->dtype), pt->ndim);
        if (pt->shape[0] > 2 * KN_MAX_DIMS)
            return kn_node_error(c->node, KN_ERR_SHAPE, "pads has %lld values; at most %d are possible",
                                 (long long)pt->shape[0], 2 * KN_MAX_DIMS);
        count = (int)pt->shape[0];
        for (int i = 0; i < count; i++) KN_TRY(kn_host_i64(pt, i, &raw[i]));
        if (at) {
            if (c->opset < 18) return kn_node_error(c->node, KN_ERR_INVALID, "the axes input needs opset 18");
            if ((at->dtype != KN_INT64 && at->dtype != KN_INT32) || at->ndim != 1 || at->shape[0] > r)
                return kn_node_error(c->node, KN_ERR_SHAPE, "axes must be a 1-D int tensor of at most %d values", r);
            naxes = (int)at->shape[0];
            for (int i = 0; i < naxes; i++) {
                int64_t a;
                KN_TRY(kn_host_i64(at, i, &a));
                KN_TRY(kn_op_axis(c, a, r, &axes[i]));
                for (int j = 0; j < i; j++)
                    if (axes[j] == axes[i]) return kn_node_error(c->node, KN_ERR_INVALID, "axis %lld is repeated", (long long)a);
            }
        }
    }
    if (count != 2 * naxes) {
        char s[160];
        return kn_node_error(c->node, KN_ERR_SHAPE, "%d pads given for %d axes of input %s; need %d", count, naxes,
                             kn_shape_str(s, sizeof s, r, x->shape), 2 * naxes);
    }
    memset(p->begin, 0, sizeof p->begin);
    memset(p->end, 0, sizeof p->end);
    for (int i = 0; i < naxes; i++) {
        p->begin[axes[i]] = raw[i];
        p->end[axes[i]] = raw[naxes + i];
    }
    return KN_OK;
}

static kn_status pad_infer(kn_op_ctx *c)
{
    KN_TRY(kn_require_inputs(c, 1));
    const kn_tensor *x = c->in[0];
    if (x->dtype == KN_STRING || x->dtype == KN_UNDEFINED)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "Pad on %s is not supported", kn_dtype_name(x->dtype));
    if (c->opset < 11 && KN_IN(c, 1))
        return kn_node_error(c->node, KN_ERR_INVALID, "opset %d Pad takes one input", c->opset);
    const kn_tensor *cv = KN_IN(c, 2);
    if (cv && (cv->dtype != x->dtype || cv->ndim > 1 || (cv->ndim == 1 && cv->shape[0] > 1)))
        return kn_node_error(c->node, KN_ERR_SHAPE, "constant_value must be a %s scalar, got %s of rank %d",
                             kn_dtype_name(x->dtype), kn_dtype_name(cv->dtype), cv->ndim);
    pad_args p;
    KN_TRY(read_pads(c, &p));
    int64_t out[KN_MAX_DIMS];
    char s[160];
    for (int d = 0; d < x->ndim; d++) {
        if (x->shape[d] == KN_DIM_UNKNOWN) { out[d] = KN_DIM_UNKNOWN; continue; }
        out[d] = x->shape[d] + p.begin[d] + p.end[d];
        int64_t kept = x->shape[d] - (p.begin[d] < 0 ? -p.begin[d] : 0) - (p.end[d] < 0 ? -p.end[d] : 0);
        if (out[d] < 0 || kept < 0)
            return kn_node_error(c->node, KN_ERR_SHAPE, "pads %lld, %lld on axis %d of input %s crop more than it holds",
                                 (long long)p.begin[d], (long long)p.end[d], d, kn_shape_str(s, sizeof s, x->ndim, x->shape));
        if (p.mode != KN_PAD_CONSTANT && kept == 0 && out[d] > 0)
            return kn_node_error(c->node, KN_ERR_SHAPE, "axis %d of input %s is empty; non-constant modes cannot pad it",
                                 d, kn_shape_str(s, sizeof s, x->ndim, x->shape));
    }
    kn_op_set_out(c, 0, x->dtype, x->ndim, out);
    return KN_OK;
}

static kn_status pad_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    pad_args p;
    KN_TRY(read_pads(c, &p));
    uint64_t value = 0;
    if (c->opset < 11) {
        float v;
        KN_TRY(kn_attr_float(c->node, "value", 0.0f, &v));
        KN_TRY(kn_value_bits(x->dtype, v, &value));
    } else if (KN_IN(c, 2) && kn_tensor_numel(c->in[2]) > 0) {
        kn_tensor one;
        KN_TRY(kn_host_elem(c->in[2], 0, &value, &one));
    }
    if (kn_tensor_numel(c->out[0]) == 0) return KN_OK;
    return KN_KCALL(c->k, pad, p.mode, kn_dtype_size(x->dtype), x->ndim, x->shape, p.begin, p.end, value, x->data,
                    c->out[0]->data);
}

static kn_status pad_backward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0], *gy = c->gout[0];
    if (!gy) return KN_OK;
    if (KN_IN(c, 2) && c->gin[2])
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "no gradient with respect to constant_value");
    if (!c->gin[0]) return KN_OK;
    if (x->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "Pad gradient on %s: only float is supported",
                             kn_dtype_name(x->dtype));
    pad_args p;
    KN_TRY(read_pads(c, &p));
    if (kn_tensor_numel(gy) == 0) return KN_OK;
    return KN_KCALL(c->k, pad_bwd, p.mode, x->ndim, x->shape, p.begin, p.end, gy->data, c->gin[0]->data);
}

const kn_op_def kn_op_pad = {
    .name = "Pad", .domain = "", .infer_data = (1u << 1) | (1u << 3),
    .min_inputs = 1, .max_inputs = 4, .min_outputs = 1, .max_outputs = 1,
    .infer = pad_infer, .forward = pad_forward, .backward = pad_backward,
};
