/* Reshape (ONNX 1-21): output with the dims of the `shape` input (the
 * `shape` attribute before opset 5). A 0 copies the input dim at that
 * position (or is a real 0 with allowzero = 1, opset 14), one -1 is inferred
 * from the element count. Output 0 is a view of the input. Statically,
 * unknown input dims make the inferred dim unknown unless every unknown dim
 * is carried over by a 0 ([N, 20, 20] -> [0, -1] gives [N, 400]). */
#include "nn/ops/shape_util.h"

static kn_status reshape_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    int64_t s[KN_MAX_DIMS], y[KN_MAX_DIMS], allowzero = 0;
    int n;
    char a[160], b[160];
    if (c->opset < 5 && c->n_in < 2) {
        KN_TRY(kn_attr_ints(c->node, "shape", s, KN_MAX_DIMS, &n));
        if (n < 0) return kn_node_error(c->node, KN_ERR_INVALID, "attribute 'shape' is required (opset %d)", c->opset);
    } else {
        if (!KN_IN(c, 1)) return kn_node_error(c->node, KN_ERR_INVALID, "input 1 (shape) is required");
        KN_TRY(kn_shape_read_ints(c, 1, "shape", s, KN_MAX_DIMS, &n));
    }
    if (c->opset >= 14) KN_TRY(kn_attr_int(c->node, "allowzero", 0, &allowzero));
    int infer_at = -1, unknown_out = 0;
    int64_t known_out = 1;
    for (int i = 0; i < n; i++) {
        if (s[i] == -1) {
            if (infer_at >= 0)
                return kn_node_error(c->node, KN_ERR_INVALID, "shape %s has more than one -1", kn_ints_str(a, sizeof a, n, s));
            infer_at = i;
            continue;
        }
        if (s[i] < -1)
            return kn_node_error(c->node, KN_ERR_INVALID, "shape %s has a negative dim %lld", kn_ints_str(a, sizeof a, n, s),
                                 (long long)s[i]);
        if (s[i] == 0 && !allowzero) {
            if (i >= x->ndim)
                return kn_node_error(c->node, KN_ERR_INVALID, "shape %s copies dim %d (0) of a rank-%d input %s",
                                     kn_ints_str(a, sizeof a, n, s), i, x->ndim, kn_shape_str(b, sizeof b, x->ndim, x->shape));
            y[i] = x->shape[i];
        } else {
            y[i] = s[i];
        }
        if (y[i] == KN_DIM_UNKNOWN) unknown_out++;
        else known_out *= y[i];
    }
    if (infer_at >= 0 && allowzero)
        for (int i = 0; i < n; i++)
            if (s[i] == 0)
                return kn_node_error(c->node, KN_ERR_INVALID, "shape %s has both 0 and -1 with allowzero = 1",
                                     kn_ints_str(a, sizeof a, n, s));
    int unknown_in = 0;
    int64_t known_in = 1;
    for (int i = 0; i < x->ndim; i++) {
        if (x->shape[i] == KN_DIM_UNKNOWN) unknown_in++;
        else known_in *= x->shape[i];
    }
    /* every unknown output dim is a copied unknown input dim: they cancel when all are copied */
    bool cancel = unknown_in == unknown_out;
    if (infer_at >= 0) {
        if (!cancel) {
            y[infer_at] = KN_DIM_UNKNOWN;
        } else {
            if (known_out == 0 || known_in % known_out != 0)
                return kn_node_error(c->node, KN_ERR_SHAPE, "cannot reshape %s to %s: %lld elements do not divide by %lld",
                                     kn_shape_str(a, sizeof a, x->ndim, x->shape), kn_ints_str(b, sizeof b, n, s),
                                     (long long)known_in, (long long)known_out);
            y[infer_at] = known_in / known_out;
        }
    } else if (cancel && known_in != known_out) {
        return kn_node_error(c->node, KN_ERR_SHAPE, "cannot reshape %s (%lld elements) to %s (%lld elements)",
                             kn_shape_str(a, sizeof a, x->ndim, x->shape), (long long)known_in,
                             kn_ints_str(b, sizeof b, n, s), (long long)known_out);
    }
    kn_op_set_out(c, 0, x->dtype, n, y);
    return KN_OK;
}

static kn_status reshape_forward(kn_op_ctx *c) { return kn_shape_copy_if_needed(c, c->out[0], c->in[0]); }

static kn_status reshape_backward(kn_op_ctx *c) { return kn_shape_accum(c, c->gin[0], c->gout[0]); }

const kn_op_def kn_op_reshape = {
    .name = "Reshape", .domain = "", .flags = KN_OP_VIEW, .infer_data = 1u << 1,
    .min_inputs = 1, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = reshape_infer, .forward = reshape_forward, .backward = reshape_backward,
};
