/* Dropout (ONNX). Opsets < 12 read `ratio` from an attribute (default 0.5);
 * 12+ from the optional `ratio` input, with an optional bool `training_mode`
 * input. The optional mask output is bool from opset 10, the data type
 * before (1 = kept).
 *
 * Dropout is active in a kiln training session (c->training) or when
 * training_mode is true; otherwise it is the identity with an all-true mask.
 * Active: keep-probability 1 - ratio from a seed drawn from the session RNG,
 * output scaled by 1 / (1 - ratio); the mask stays in state[0] for backward.
 * Opsets 1-6 are read like 7 (their `is_test` attribute is not consulted:
 * the session decides). The `seed` attribute is not used: the session RNG (kn_session_opts.seed)
 * makes runs reproducible and gives every step a fresh mask.
 *
 * KN_OP_VIEW: as the identity the output may share the input's buffer. When
 * the session made it a view but the node is active, forward gives the output
 * its own buffer first, so the input (which backward may still read) is never
 * overwritten. */
#include "nn/ops/host_scalar.h"

static kn_dtype mask_dtype(const kn_op_ctx *c, kn_dtype data) { return c->opset >= 10 ? KN_BOOL : data; }
static bool wants_mask(const kn_op_ctx *c) { return c->n_out > 1 && c->node->outputs[1] >= 0; }

static kn_status dropout_params(const kn_op_ctx *c, float *ratio, bool *active)
{
    const kn_tensor *r = KN_IN(c, 1), *t = KN_IN(c, 2);
    bool training = c->training;
    if (c->opset >= 12) {
        double v = 0.5;
        if (r) KN_TRY(kn_host_f64(r, 0, &v));
        *ratio = (float)v;
        if (t) {
            int64_t tm;
            KN_TRY(kn_host_i64(t, 0, &tm));
            training = training || tm != 0;
        }
    } else {
        KN_TRY(kn_attr_float(c->node, "ratio", 0.5f, ratio));
    }
    if (!(*ratio >= 0.0f && *ratio < 1.0f))
        return kn_node_error(c->node, KN_ERR_INVALID, "ratio %g must be in [0, 1)", (double)*ratio);
    *active = training && *ratio > 0.0f;
    return KN_OK;
}

static kn_status dropout_infer(kn_op_ctx *c)
{
    KN_TRY(kn_require_inputs(c, 1));
    const kn_tensor *x = c->in[0], *r = KN_IN(c, 1), *t = KN_IN(c, 2);
    if (c->opset < 12 && (r || t))
        return kn_node_error(c->node, KN_ERR_INVALID, "ratio and training_mode inputs need opset 12 (model has %d)",
                             c->opset);
    if (x->dtype == KN_STRING || x->dtype == KN_UNDEFINED)
        return kn_node_error(c->node, KN_ERR_SHAPE, "input is %s; Dropout needs a numeric tensor",
                             kn_dtype_name(x->dtype));
    char s[160];
    if (r && (!kn_dtype_is_float(r->dtype) || r->ndim > 1 || (r->ndim == 1 && r->shape[0] > 1)))
        return kn_node_error(c->node, KN_ERR_SHAPE, "ratio must be a float scalar, got %s %s", kn_dtype_name(r->dtype),
                             kn_shape_str(s, sizeof s, r->ndim, r->shape));
    if (t && (t->dtype != KN_BOOL || t->ndim > 1 || (t->ndim == 1 && t->shape[0] > 1)))
        return kn_node_error(c->node, KN_ERR_SHAPE, "training_mode must be a bool scalar, got %s %s",
                             kn_dtype_name(t->dtype), kn_shape_str(s, sizeof s, t->ndim, t->shape));
    kn_op_set_out(c, 0, x->dtype, x->ndim, x->shape);
    if (wants_mask(c)) kn_op_set_out(c, 1, mask_dtype(c, x->dtype), x->ndim, x->shape);
    return KN_OK;
}

/* Write the mask output from the kept flags (NULL: all kept). */
static kn_status write_mask(kn_op_ctx *c, const uint8_t *kept)
{
    kn_tensor *mo = c->out[1];
    int64_t n = kn_tensor_numel(mo);
    size_t es = kn_dtype_size(mo->dtype);
    uint64_t one, zero;
    KN_TRY(kn_value_bits(mo->dtype, 1.0, &one));
    KN_TRY(kn_value_bits(mo->dtype, 0.0, &zero));
    if (!kept) return KN_KCALL(c->k, fill, es, n, one, mo->data);
    if (mo->dtype == KN_BOOL) return KN_KCALL(c->k, memcpy_d2d, mo->data, kept, (size_t)n);
    /* opsets < 10: a mask of the data type, 1 where kept: where(kept, 1, 0) with
     * both values as broadcast scalars in the workspace */
    if (c->ws_bytes < 2 * es) return kn_node_error(c->node, KN_ERR_INTERNAL, "workspace too small");
    char *ws = c->ws;
    KN_TRY(KN_KCALL(c->k, fill, es, 1, one, ws));
    KN_TRY(KN_KCALL(c->k, fill, es, 1, zero, ws + es));
    kn_bcast bc = {.ndim = 1, .shape = {n}};
    int64_t cs[1] = {1};
    return KN_KCALL(c->k, where, es, &bc, cs, kept, ws, ws + es, mo->data);
}

static kn_status dropout_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    kn_tensor *y = c->out[0];
    float ratio;
    bool active;
    KN_TRY(dropout_params(c, &ratio, &active));
    int64_t n = kn_tensor_numel(x);
    if (!active) {
        kn_tensor_release(&c->state[0]);
        if (y->data != x->data) KN_TRY(KN_KCALL(c->k, memcpy_d2d, y->data, x->data, kn_tensor_bytes(x)));
        return wants_mask(c) ? write_mask(c, NULL) : KN_OK;
    }
    if (x->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "training-mode Dropout on %s: only float is supported",
                             kn_dtype_name(x->dtype));
    if (!c->rng)
        return kn_node_error(c->node, KN_ERR_INVALID, "training-mode Dropout needs a session random generator");
    kn_tensor *mask = &c->state[0];
    KN_TRY(kn_tensor_ensure_on(mask, KN_BOOL, x->ndim, x->shape, c->device, NULL));
    if (y->data == x->data) { /* the session aliased the output to the input: unshare it */
        kn_tensor_release(y);
        KN_TRY(kn_tensor_init_on(y, x->dtype, x->ndim, x->shape, c->device));
    }
    uint64_t seed = kn_rng_next(c->rng);
    KN_TRY(KN_KCALL(c->k, dropout_fwd, n, ratio, 1.0f / (1.0f - ratio), seed, x->data, y->data, mask->data));
    return wants_mask(c) ? write_mask(c, mask->data) : KN_OK;
}

static size_t dropout_ws(kn_op_ctx *c)
{
    return wants_mask(c) && c->opset < 10 ? 2 * kn_dtype_size(c->in[0]->dtype) : 0;
}

static kn_status dropout_backward(kn_op_ctx *c)
{
    const kn_tensor *gy = c->gout[0];
    kn_tensor *gx = c->gin[0];
    if (!gy || !gx) return KN_OK;
    if (gx->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "Dropout gradient on %s: only float is supported",
                             kn_dtype_name(gx->dtype));
    int64_t n = kn_tensor_numel(gx);
    const kn_tensor *mask = &c->state[0];
    if (mask->data) {
        float ratio;
        bool active;
        KN_TRY(dropout_params(c, &ratio, &active));
        if (kn_tensor_numel(mask) != n)
            return kn_node_error(c->node, KN_ERR_INTERNAL, "the saved mask does not match the gradient");
        return KN_KCALL(c->k, dropout_bwd, n, 1.0f / (1.0f - ratio), mask->data, gy->data, gx->data);
    }
    kn_bcast bc; /* identity: gx += gy */
    KN_TRY(kn_bcast_init(&bc, gx->ndim, gx->shape, gy->ndim, gy->shape));
    return KN_KCALL(c->k, binary, KN_BIN_ADD, KN_FLOAT, &bc, gx->data, gy->data, gx->data);
}

const kn_op_def kn_op_dropout = {
    .name = "Dropout", .domain = "", .flags = KN_OP_VIEW | KN_OP_NONDETERMINISTIC,
    .min_inputs = 1, .max_inputs = 3, .min_outputs = 1, .max_outputs = 2,
    .infer = dropout_infer, .forward = dropout_forward, .backward = dropout_backward, .workspace = dropout_ws,
};
