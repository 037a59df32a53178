/* Resize (ONNX 10-21) and Upsample (7-9): separable nearest, linear and cubic
 * resampling of every dim. The op computes, per dim and output coordinate, the
 * source taps and weights on the host (1 tap nearest, 2 linear, 4 cubic) and
 * the resize kernel sums over their products.
 *
 * Inputs: Upsample-7 scales attribute, Upsample-9 / Resize-10 (X, scales),
 * Resize-11+ (X, roi, scales, sizes) with either scales or sizes. Output size
 * is floor(in * scale), or sizes (then scale = out / in).
 * coordinate_transformation_mode: half_pixel (default from 11),
 * pytorch_half_pixel, align_corners, asymmetric, tf_half_pixel_for_nn; Upsample
 * and Resize-10 are asymmetric. nearest_mode: round_prefer_floor (default),
 * round_prefer_ceil, floor, ceil; Upsample and Resize-10 take floor when
 * enlarging and ceil when shrinking (onnxruntime's reading of those opsets).
 * Linear and cubic read edge values outside the input; cubic honours
 * cubic_coeff_a and exclude_outside. Not implemented (KN_ERR_UNSUPPORTED):
 * tf_crop_and_resize, half_pixel_symmetric, antialias, the opset-18 axes and
 * keep_aspect_ratio_policy attributes. Float32 for linear/cubic, any dtype for
 * nearest; no backward. */
#include "nn/ops/host_scalar.h"
#include "nn/ops/shape_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum { M_NEAREST, M_LINEAR, M_CUBIC } rs_mode;
typedef enum { C_HALF, C_PT_HALF, C_ALIGN, C_ASYM, C_TF_HALF_NN } rs_coord;
typedef enum { N_RPF, N_RPC, N_FLOOR, N_CEIL, N_LEGACY } rs_nmode;

typedef struct rs_cfg {
    rs_mode mode;
    rs_coord coord;
    rs_nmode nearest;
    float cubic_a;
    bool exclude_outside;
    int64_t out[KN_MAX_DIMS];
    double scale[KN_MAX_DIMS];
} rs_cfg;

static bool is_upsample(const kn_op_ctx *c) { return strcmp(c->node->op_type, "Upsample") == 0; }

static kn_status rs_attrs(const kn_op_ctx *c, rs_cfg *r)
{
    const bool legacy = is_upsample(c) || c->opset < 11;
    const char *mode, *coord, *nearest;
    int64_t exclude, antialias;
    KN_TRY(kn_attr_string(c->node, "mode", "nearest", &mode));
    KN_TRY(kn_attr_string(c->node, "coordinate_transformation_mode", legacy ? "asymmetric" : "half_pixel", &coord));
    KN_TRY(kn_attr_string(c->node, "nearest_mode", "round_prefer_floor", &nearest));
    KN_TRY(kn_attr_float(c->node, "cubic_coeff_a", -0.75f, &r->cubic_a));
    KN_TRY(kn_attr_int(c->node, "exclude_outside", 0, &exclude));
    KN_TRY(kn_attr_int(c->node, "antialias", 0, &antialias));
    r->exclude_outside = exclude != 0;
    if (!strcmp(mode, "nearest")) r->mode = M_NEAREST;
    else if (!strcmp(mode, "linear") || (legacy && !strcmp(mode, "bilinear"))) r->mode = M_LINEAR;
    else if (!strcmp(mode, "cubic") && !legacy) r->mode = M_CUBIC;
    else return kn_node_error(c->node, KN_ERR_INVALID, "mode '%s' is not valid here", mode);
    if (!strcmp(coord, "half_pixel")) r->coord = C_HALF;
    else if (!strcmp(coord, "pytorch_half_pixel")) r->coord = C_PT_HALF;
    else if (!strcmp(coord, "align_corners")) r->coord = C_ALIGN;
    else if (!strcmp(coord, "asymmetric")) r->coord = C_ASYM;
    else if (!strcmp(coord, "tf_half_pixel_for_nn")) r->coord = C_TF_HALF_NN;
    else return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "coordinate_transformation_mode '%s' is not supported", coord);
    if (legacy) r->nearest = N_LEGACY;
    else if (!strcmp(nearest, "round_prefer_floor")) r->nearest = N_RPF;
    else if (!strcmp(nearest, "round_prefer_ceil")) r->nearest = N_RPC;
    else if (!strcmp(nearest, "floor")) r->nearest = N_FLOOR;
    else if (!strcmp(nearest, "ceil")) r->nearest = N_CEIL;
    else return kn_node_error(c->node, KN_ERR_INVALID, "nearest_mode '%s' is not valid", nearest);
    if (antialias) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "antialias is not supported");
    if (kn_node_attr(c->node, "axes")) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "the axes attribute is not supported");
    const char *kar;
    KN_TRY(kn_attr_string(c->node, "keep_aspect_ratio_policy", "stretch", &kar));
    if (strcmp(kar, "stretch"))
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "keep_aspect_ratio_policy '%s' is not supported", kar);
    return KN_OK;
}

/* Output shape and per-dim scales from the scales / sizes inputs (or attribute). */
static kn_status rs_shape(const kn_op_ctx *c, const kn_tensor *x, rs_cfg *r)
{
    const int rank = x->ndim;
    const kn_tensor *scales = NULL, *sizes = NULL;
    float attr[KN_MAX_DIMS];
    int nattr = -1;
    if (is_upsample(c) && c->opset < 9) {
        KN_TRY(kn_attr_floats(c->node, "scales", attr, KN_MAX_DIMS, &nattr));
        if (nattr < 0) return kn_node_error(c->node, KN_ERR_INVALID, "attribute 'scales' is required");
    } else if (is_upsample(c) || c->opset < 11) {
        scales = KN_IN(c, 1);
    } else {
        scales = KN_IN(c, 2);
        sizes = KN_IN(c, 3);
        if (scales && kn_tensor_numel(scales) == 0) scales = NULL; /* opset 11 passes an empty one */
    }
    if (scales && sizes) return kn_node_error(c->node, KN_ERR_INVALID, "give scales or sizes, not both");
    if (!scales && !sizes && nattr < 0) return kn_node_error(c->node, KN_ERR_INVALID, "one of scales and sizes is required");
    if (sizes) {
        int n;
        KN_TRY(kn_shape_read_ints(c, 3, "sizes", r->out, KN_MAX_DIMS, &n));
        if (n != rank) return kn_node_error(c->node, KN_ERR_SHAPE, "sizes has %d values for a rank-%d input", n, rank);
        for (int d = 0; d < rank; d++) {
            if (r->out[d] < 0) return kn_node_error(c->node, KN_ERR_INVALID, "sizes[%d] = %lld is negative", d, (long long)r->out[d]);
            r->scale[d] = x->shape[d] > 0 && x->shape[d] != KN_DIM_UNKNOWN ? (double)r->out[d] / (double)x->shape[d] : 1;
        }
        return KN_OK;
    }
    int64_t n = nattr >= 0 ? nattr : kn_tensor_numel(scales);
    if (n != rank) return kn_node_error(c->node, KN_ERR_SHAPE, "scales has %lld values for a rank-%d input", (long long)n, rank);
    for (int d = 0; d < rank; d++) {
        double s;
        if (nattr >= 0) s = attr[d];
        else KN_TRY(kn_host_f64(scales, d, &s));
        if (!(s > 0)) return kn_node_error(c->node, KN_ERR_INVALID, "scales[%d] = %g must be positive", d, s);
        /* the epsilon keeps an exact product (scales are float) from flooring one below */
        r->scale[d] = s;
        r->out[d] = x->shape[d] == KN_DIM_UNKNOWN ? KN_DIM_UNKNOWN : (int64_t)floor((double)x->shape[d] * s + 1e-9);
    }
    return KN_OK;
}

static kn_status rs_config(const kn_op_ctx *c, rs_cfg *r)
{
    KN_TRY(rs_attrs(c, r));
    return rs_shape(c, c->in[0], r);
}

static kn_status resize_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    rs_cfg r;
    if (x->ndim < 1) return kn_node_error(c->node, KN_ERR_SHAPE, "input must have rank >= 1");
    KN_TRY(rs_config(c, &r));
    if (r.mode != M_NEAREST && x->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "linear and cubic modes need float input, got %s", kn_dtype_name(x->dtype));
    if (x->dtype == KN_STRING) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "string tensors are not supported");
    kn_op_set_out(c, 0, x->dtype, x->ndim, r.out);
    return KN_OK;
}

static int rs_taps(rs_mode m) { return m == M_NEAREST ? 1 : m == M_LINEAR ? 2 : 4; }

static size_t resize_ws(kn_op_ctx *c)
{
    rs_cfg r;
    if (rs_config(c, &r) != KN_OK) return 0;
    int64_t total = 0;
    for (int d = 0; d < c->in[0]->ndim; d++) total += r.out[d];
    return (size_t)(total * rs_taps(r.mode)) * (sizeof(int64_t) + sizeof(float));
}

static double rs_source(const rs_cfg *r, int d, int64_t o, int64_t in)
{
    /* the resized length is in * scale unfloored (as the ONNX reference has it); with
     * sizes given that is the output size */
    const double s = r->scale[d], out = (double)in * s;
    switch (r->coord) {
    case C_HALF: return ((double)o + 0.5) / s - 0.5;
    case C_PT_HALF: return out > 1 ? ((double)o + 0.5) / s - 0.5 : 0;
    case C_ALIGN: return out == 1 ? 0 : (double)o * (double)(in - 1) / (out - 1);
    case C_TF_HALF_NN: return ((double)o + 0.5) / s;
    default: return (double)o / s;
    }
}

static int64_t clampi(int64_t v, int64_t n) { return v < 0 ? 0 : v >= n ? n - 1 : v; }

static int64_t rs_nearest(const rs_cfg *r, int d, double x)
{
    switch (r->nearest) {
    case N_RPF: return x == floor(x) + 0.5 ? (int64_t)floor(x) : (int64_t)llround(x);
    case N_RPC: return x == floor(x) + 0.5 ? (int64_t)ceil(x) : (int64_t)llround(x);
    case N_FLOOR: return (int64_t)floor(x);
    case N_CEIL: return (int64_t)ceil(x);
    default: return r->scale[d] < 1 ? (int64_t)ceil(x) : (int64_t)floor(x);
    }
}

/* Taps for one output coordinate of dim d. */
static void rs_taps_at(const rs_cfg *r, int d, int64_t o, int64_t in, int64_t *idx, float *w)
{
    const double x = rs_source(r, d, o, in);
    if (r->mode == M_NEAREST) {
        idx[0] = clampi(rs_nearest(r, d, x), in);
        w[0] = 1;
        return;
    }
    const double f = floor(x), t = x - f;
    if (r->mode == M_LINEAR) {
        idx[0] = clampi((int64_t)f, in);
        idx[1] = clampi((int64_t)f + 1, in);
        w[0] = (float)(1 - t);
        w[1] = (float)t;
        return;
    }
    const double A = r->cubic_a, p = t + 1, q = 1 - t, s = 2 - t;
    double cw[4] = {((A * p - 5 * A) * p + 8 * A) * p - 4 * A, ((A + 2) * t - (A + 3)) * t * t + 1,
                    ((A + 2) * q - (A + 3)) * q * q + 1, ((A * s - 5 * A) * s + 8 * A) * s - 4 * A};
    double sum = 0;
    for (int k = 0; k < 4; k++) {
        int64_t at = (int64_t)f - 1 + k;
        if (r->exclude_outside && (at < 0 || at >= in)) cw[k] = 0;
        sum += cw[k];
        idx[k] = clampi(at, in);
    }
    for (int k = 0; k < 4; k++) w[k] = (float)(r->exclude_outside && sum != 0 ? cw[k] / sum : cw[k]);
}

static kn_status resize_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    kn_tensor *y = c->out[0];
    rs_cfg r;
    KN_TRY(rs_config(c, &r));
    if (kn_tensor_numel(y) == 0) return KN_OK;
    if (kn_tensor_numel(x) == 0) return kn_node_error(c->node, KN_ERR_SHAPE, "cannot resize an empty input to a non-empty output");
    const int taps = rs_taps(r.mode);
    int64_t total = 0;
    for (int d = 0; d < x->ndim; d++) total += y->shape[d];
    const size_t ib = (size_t)(total * taps) * sizeof(int64_t), wb = (size_t)(total * taps) * sizeof(float);
    if (c->ws_bytes < ib + wb) return kn_node_error(c->node, KN_ERR_INTERNAL, "workspace too small");
    char *host = c->device == KN_CPU ? c->ws : malloc(ib + wb);
    if (!host) return kn_error(KN_ERR_NOMEM, "out of memory for resize tables");
    int64_t *idx = (int64_t *)host;
    float *w = (float *)(host + ib);
    int64_t base = 0;
    for (int d = 0; d < x->ndim; base += y->shape[d], d++)
        for (int64_t o = 0; o < y->shape[d]; o++)
            rs_taps_at(&r, d, o, x->shape[d], idx + (base + o) * taps, w + (base + o) * taps);
    kn_status st = KN_OK;
    if (c->device != KN_CPU) {
        st = KN_KCALL(c->k, memcpy_h2d, c->ws, host, ib + wb);
        free(host);
    }
    if (st != KN_OK) return st;
    return KN_KCALL(c->k, resize, x->dtype, x->ndim, x->shape, y->shape, taps, (const int64_t *)c->ws,
                    (const float *)((char *)c->ws + ib), x->data, y->data);
}

const kn_op_def kn_op_resize = {
    .name = "Resize", .domain = "", .infer_data = (1u << 1) | (1u << 2) | (1u << 3),
    .min_inputs = 1, .max_inputs = 4, .min_outputs = 1, .max_outputs = 1,
    .infer = resize_infer, .forward = resize_forward, .workspace = resize_ws,
};

const kn_op_def kn_op_upsample = {
    .name = "Upsample", .domain = "", .infer_data = 1u << 1,
    .min_inputs = 1, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = resize_infer, .forward = resize_forward, .workspace = resize_ws,
};
