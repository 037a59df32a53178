/* Squeeze (ONNX 1-21): remove size-1 dims. The axes come from the `axes` attribute before opset 13 and from
 * input 1 from opset 13. Output 0 is a view of the input.
 * Squeeze without axes removes every size-1 dim; statically, an unknown dim
 * then leaves the output rank unknown (the output stays undefined). */
#include "nn/ops/shape_util.h"

static kn_status squeeze_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    int64_t axes[KN_MAX_DIMS], y[KN_MAX_DIMS];
    int n, r = x->ndim, k = 0;
    bool drop[KN_MAX_DIMS] = {false};
    char a[160], b[160];
    KN_TRY(kn_shape_ints_arg(c, 1, 13, "axes", axes, KN_MAX_DIMS, &n));
    if (n < 0) {
        for (int i = 0; i < r; i++) {
            if (x->shape[i] == KN_DIM_UNKNOWN) return KN_OK; /* rank not known statically */
            drop[i] = x->shape[i] == 1;
        }
    } else {
        for (int i = 0; i < n; i++) {
            int ax;
            KN_TRY(kn_op_axis(c, axes[i], r, &ax));
            if (drop[ax])
                return kn_node_error(c->node, KN_ERR_INVALID, "axes %s repeat axis %d", kn_ints_str(a, sizeof a, n, axes), ax);
            if (x->shape[ax] != 1 && x->shape[ax] != KN_DIM_UNKNOWN)
                return kn_node_error(c->node, KN_ERR_SHAPE, "cannot squeeze axis %d of %s: its size is not 1 (axes %s)", ax,
                                     kn_shape_str(b, sizeof b, r, x->shape), kn_ints_str(a, sizeof a, n, axes));
            drop[ax] = true;
        }
    }
    for (int i = 0; i < r; i++)
        if (!drop[i]) y[k++] = x->shape[i];
    kn_op_set_out(c, 0, x->dtype, k, y);
    return KN_OK;
}

static kn_status squeeze_forward(kn_op_ctx *c) { return kn_shape_copy_if_needed(c, c->out[0], c->in[0]); }

static kn_status squeeze_backward(kn_op_ctx *c) { return kn_shape_accum(c, c->gin[0], c->gout[0]); }

const kn_op_def kn_op_squeeze = {
    .name = "Squeeze", .domain = "", .flags = KN_OP_VIEW, .infer_data = 1u << 1,
    .min_inputs = 1, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = squeeze_infer, .forward = squeeze_forward, .backward = squeeze_backward,
};
