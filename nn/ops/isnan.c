/* IsNaN and IsInf (ONNX): bool masks of float or double inputs, built from the
 * binary comparison kernel so every device runs them: IsNaN is NOT (x == x)
 * (NaN alone is unequal to itself), IsInf is (x == +inf) OR (x == -inf), each
 * side per detect_positive / detect_negative. Not differentiable. */
#include "nn/ops/host_scalar.h"

#include <math.h>

static kn_status isx_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    if (x->dtype != KN_FLOAT && x->dtype != KN_DOUBLE)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "%s on %s is not supported (float and double are)",
                             c->node->op_type, kn_dtype_name(x->dtype));
    kn_op_set_out(c, 0, KN_BOOL, x->ndim, x->shape);
    return KN_OK;
}

/* Layout: one scalar slot (64 bytes) | IsInf: a bool mask of x's size. */
static size_t isx_ws(kn_op_ctx *c)
{
    return 64 + (strcmp(c->node->op_type, "IsInf") ? 0 : (size_t)kn_tensor_numel(c->in[0]));
}

/* dst = src OP scalar, the scalar (dtype dt, value v) written to the workspace slot. */
static kn_status with_scalar(kn_op_ctx *c, kn_binop op, kn_dtype dt, double v, const void *src, void *dst)
{
    const int64_t n = kn_tensor_numel(c->in[0]);
    uint64_t bits;
    KN_TRY(kn_value_bits(dt, v, &bits));
    KN_TRY(KN_KCALL(c->k, fill, kn_dtype_size(dt), 1, bits, c->ws));
    kn_bcast bc = {.ndim = 1, .shape = {n}, .astride = {1}, .bstride = {0}};
    return KN_KCALL(c->k, binary, op, dt, &bc, src, c->ws, dst);
}

static kn_status isnan_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    const int64_t n = kn_tensor_numel(x);
    if (n == 0) return KN_OK;
    if (c->ws_bytes < isx_ws(c)) return kn_node_error(c->node, KN_ERR_INTERNAL, "workspace too small");
    kn_bcast bc = {.ndim = 1, .shape = {n}, .astride = {1}, .bstride = {1}};
    KN_TRY(KN_KCALL(c->k, binary, KN_BIN_EQUAL, x->dtype, &bc, x->data, x->data, c->out[0]->data));
    return with_scalar(c, KN_BIN_XOR, KN_BOOL, 1, c->out[0]->data, c->out[0]->data);
}

static kn_status isinf_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    kn_tensor *y = c->out[0];
    const int64_t n = kn_tensor_numel(x);
    int64_t pos, neg;
    KN_TRY(kn_attr_int(c->node, "detect_positive", 1, &pos));
    KN_TRY(kn_attr_int(c->node, "detect_negative", 1, &neg));
    if (n == 0) return KN_OK;
    if (c->ws_bytes < isx_ws(c)) return kn_node_error(c->node, KN_ERR_INTERNAL, "workspace too small");
    if (!pos && !neg) return KN_KCALL(c->k, memset0, y->data, (size_t)n);
    uint8_t *mask = (uint8_t *)c->ws + 64;
    KN_TRY(with_scalar(c, KN_BIN_EQUAL, x->dtype, pos ? INFINITY : -INFINITY, x->data, y->data));
    if (!(pos && neg)) return KN_OK;
    KN_TRY(with_scalar(c, KN_BIN_EQUAL, x->dtype, -INFINITY, x->data, mask));
    kn_bcast bc = {.ndim = 1, .shape = {n}, .astride = {1}, .bstride = {1}};
    return KN_KCALL(c->k, binary, KN_BIN_OR, KN_BOOL, &bc, y->data, mask, y->data);
}

const kn_op_def kn_op_is_nan = {
    .name = "IsNaN", .domain = "", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = isx_infer, .forward = isnan_forward, .workspace = isx_ws,
};

const kn_op_def kn_op_is_inf = {
    .name = "IsInf", .domain = "", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = isx_infer, .forward = isinf_forward, .workspace = isx_ws,
};
