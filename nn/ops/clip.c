/* Clip (ONNX). Opsets < 11: `min` / `max` float attributes (defaults: the
 * float range). 11+: optional scalar `min` and `max` inputs of the data type
 * (an omitted one is NULL). min > max sets everything to max, as the spec
 * says. Float32 runs the unary clip kernel; double and integer types clamp
 * with the binary max/min kernels against the bounds held in the workspace.
 * Float32 backward with respect to the input. */
#include "nn/ops/host_scalar.h"

#include <float.h>

typedef struct clip_bounds {
    bool has_lo, has_hi;
    uint64_t lo, hi; /* element bits */
    double flo, fhi; /* the same as doubles */
} clip_bounds;

static kn_status read_bounds(const kn_op_ctx *c, clip_bounds *b)
{
    const kn_tensor *x = c->in[0];
    b->has_lo = b->has_hi = false;
    b->flo = -FLT_MAX;
    b->fhi = FLT_MAX;
    if (c->opset < 11) {
        float lo, hi;
        KN_TRY(kn_attr_float(c->node, "min", -FLT_MAX, &lo));
        KN_TRY(kn_attr_float(c->node, "max", FLT_MAX, &hi));
        b->has_lo = kn_node_attr(c->node, "min") != NULL;
        b->has_hi = kn_node_attr(c->node, "max") != NULL;
        b->flo = lo;
        b->fhi = hi;
        KN_TRY(kn_value_bits(x->dtype, lo, &b->lo));
        KN_TRY(kn_value_bits(x->dtype, hi, &b->hi));
        return KN_OK;
    }
    const kn_tensor *tlo = KN_IN(c, 1), *thi = KN_IN(c, 2);
    kn_tensor one;
    if (tlo && kn_tensor_numel(tlo) > 0) {
        KN_TRY(kn_host_elem(tlo, 0, &b->lo, &one));
        b->flo = kn_tensor_get_f64(&one, 0);
        b->has_lo = true;
    }
    if (thi && kn_tensor_numel(thi) > 0) {
        KN_TRY(kn_host_elem(thi, 0, &b->hi, &one));
        b->fhi = kn_tensor_get_f64(&one, 0);
        b->has_hi = true;
    }
    return KN_OK;
}

/* Float32 clamp range for the unary kernel, with min > max meaning "all max". */
static void float_range(const clip_bounds *b, float *lo, float *hi)
{
    *lo = (float)b->flo;
    *hi = (float)b->fhi;
    if (*lo > *hi) *lo = *hi;
}

static kn_status clip_infer(kn_op_ctx *c)
{
    KN_TRY(kn_require_inputs(c, 1));
    const kn_tensor *x = c->in[0];
    if (x->dtype == KN_BOOL || x->dtype == KN_STRING || x->dtype == KN_FLOAT16 || x->dtype == KN_UNDEFINED)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "Clip on %s is not supported", kn_dtype_name(x->dtype));
    if (c->opset < 11 && (KN_IN(c, 1) || KN_IN(c, 2)))
        return kn_node_error(c->node, KN_ERR_INVALID, "opset %d Clip takes min/max as attributes, not inputs",
                             c->opset);
    if (c->opset < 11 && x->dtype != KN_FLOAT && x->dtype != KN_DOUBLE)
        return kn_node_error(c->node, KN_ERR_SHAPE, "opset %d Clip needs float input, got %s", c->opset,
                             kn_dtype_name(x->dtype));
    for (int i = 1; i <= 2; i++) {
        const kn_tensor *b = KN_IN(c, i);
        if (!b) continue;
        char s[160];
        bool scalar = b->ndim == 0 || (b->ndim == 1 && (b->shape[0] == 1 || b->shape[0] == KN_DIM_UNKNOWN));
        if (b->dtype != x->dtype || !scalar)
            return kn_node_error(c->node, KN_ERR_SHAPE, "%s must be a %s scalar, got %s %s", i == 1 ? "min" : "max",
                                 kn_dtype_name(x->dtype), kn_dtype_name(b->dtype), kn_shape_str(s, sizeof s, b->ndim, b->shape));
    }
    kn_op_set_out(c, 0, x->dtype, x->ndim, x->shape);
    return KN_OK;
}

static size_t clip_ws(kn_op_ctx *c)
{
    return c->in[0]->dtype == KN_FLOAT ? 0 : 2 * kn_dtype_size(c->in[0]->dtype);
}

static kn_status clip_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    kn_tensor *y = c->out[0];
    clip_bounds b;
    KN_TRY(read_bounds(c, &b));
    int64_t n = kn_tensor_numel(x);
    if (x->dtype == KN_FLOAT) {
        float lo, hi;
        float_range(&b, &lo, &hi);
        return KN_KCALL(c->k, unary, KN_UN_CLIP, lo, hi, n, x->data, y->data);
    }
    size_t es = kn_dtype_size(x->dtype);
    if (c->ws_bytes < 2 * es) return kn_node_error(c->node, KN_ERR_INTERNAL, "workspace too small");
    char *ws = c->ws;
    kn_bcast bc = {.ndim = 1, .shape = {n}, .astride = {1}, .bstride = {0}};
    const void *src = x->data;
    if (!b.has_lo && !b.has_hi) return KN_KCALL(c->k, memcpy_d2d, y->data, x->data, kn_tensor_bytes(x));
    if (b.has_lo) {
        KN_TRY(KN_KCALL(c->k, fill, es, 1, b.lo, ws));
        KN_TRY(KN_KCALL(c->k, binary, KN_BIN_MAX, x->dtype, &bc, src, ws, y->data));
        src = y->data;
    }
    if (b.has_hi) {
        KN_TRY(KN_KCALL(c->k, fill, es, 1, b.hi, ws + es));
        KN_TRY(KN_KCALL(c->k, binary, KN_BIN_MIN, x->dtype, &bc, src, ws + es, y->data));
    }
    return KN_OK;
}

static kn_status clip_backward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    if (!c->gout[0]) return KN_OK;
    if ((KN_IN(c, 1) && c->gin[1]) || (KN_IN(c, 2) && c->gin[2]))
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "no gradient with respect to min or max");
    if (!c->gin[0]) return KN_OK;
    if (x->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "Clip gradient on %s: only float is supported",
                             kn_dtype_name(x->dtype));
    clip_bounds b;
    KN_TRY(read_bounds(c, &b));
    float lo, hi;
    float_range(&b, &lo, &hi);
    return KN_KCALL(c->k, unary_bwd, KN_UN_CLIP, lo, hi, kn_tensor_numel(x), x->data, c->out[0]->data,
                    c->gout[0]->data, c->gin[0]->data);
}

const kn_op_def kn_op_clip = {
    .name = "Clip", .domain = "", .min_inputs = 1, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = clip_infer, .forward = clip_forward, .backward = clip_backward, .workspace = clip_ws,
};
