/* Unsqueeze (ONNX 1-21): insert size-1 dims at `axes` (normalised against
 * the output rank, any order). The axes come from the `axes` attribute
 * before opset 13 and from input 1 from opset 13. Output 0 is a view. */
#include "nn/ops/shape_util.h"

static kn_status unsqueeze_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    int64_t axes[KN_MAX_DIMS], y[KN_MAX_DIMS];
    int n;
    bool ins[KN_MAX_DIMS] = {false};
    char a[160];
    KN_TRY(kn_shape_ints_arg(c, 1, 13, "axes", axes, KN_MAX_DIMS, &n));
    if (n < 0) return kn_node_error(c->node, KN_ERR_INVALID, "axes are required (%s)", c->opset >= 13 ? "input 1" : "attribute 'axes'");
    int r = x->ndim + n;
    if (r > KN_MAX_DIMS)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "output rank %d exceeds %d", r, KN_MAX_DIMS);
    for (int i = 0; i < n; i++) {
        int ax;
        KN_TRY(kn_op_axis(c, axes[i], r, &ax));
        if (ins[ax])
            return kn_node_error(c->node, KN_ERR_INVALID, "axes %s repeat axis %d", kn_ints_str(a, sizeof a, n, axes), ax);
        ins[ax] = true;
    }
    for (int i = 0, j = 0; i < r; i++) y[i] = ins[i] ? 1 : x->shape[j++];
    kn_op_set_out(c, 0, x->dtype, r, y);
    return KN_OK;
}

static kn_status unsqueeze_forward(kn_op_ctx *c) { return kn_shape_copy_if_needed(c, c->out[0], c->in[0]); }

static kn_status unsqueeze_backward(kn_op_ctx *c) { return kn_shape_accum(c, c->gin[0], c->gout[0]); }

const kn_op_def kn_op_unsqueeze = {
    .name = "Unsqueeze", .domain = "", .flags = KN_OP_VIEW, .infer_data = 1u << 1,
    .min_inputs = 1, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = unsqueeze_infer, .forward = unsqueeze_forward, .backward = unsqueeze_backward,
};
