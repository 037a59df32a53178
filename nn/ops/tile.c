/* Tile (ONNX 6-21): repeat the input repeats[i] times along each dim i.
 * The output [r0*d0, r1*d1, ...] is read as [r0, d0, r1, d1, ...] and filled
 * by one strided copy with 0 strides on the repeat dims. No backward. */
#include "nn/ops/shape_util.h"

static kn_status tile_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    int64_t rep[KN_MAX_DIMS], y[KN_MAX_DIMS];
    int n;
    char a[160];
    KN_TRY(kn_shape_read_ints(c, 1, "repeats", rep, KN_MAX_DIMS, &n));
    if (n != x->ndim)
        return kn_node_error(c->node, KN_ERR_INVALID, "repeats %s has %d values for a rank-%d input",
                             kn_ints_str(a, sizeof a, n, rep), n, x->ndim);
    for (int i = 0; i < n; i++) {
        if (rep[i] < 0)
            return kn_node_error(c->node, KN_ERR_INVALID, "repeats %s has a negative value", kn_ints_str(a, sizeof a, n, rep));
        y[i] = x->shape[i] == KN_DIM_UNKNOWN ? (rep[i] == 0 ? 0 : KN_DIM_UNKNOWN) : x->shape[i] * rep[i];
    }
    kn_op_set_out(c, 0, x->dtype, n, y);
    return KN_OK;
}

static kn_status tile_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    kn_tensor *y = c->out[0];
    if (x->dtype == KN_STRING) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "string tensors are not supported");
    if (kn_tensor_numel(y) == 0) return KN_OK;
    int64_t cs[KN_MAX_DIMS], shape[2 * KN_MAX_DIMS], xs[2 * KN_MAX_DIMS], ys[2 * KN_MAX_DIMS];
    int r = x->ndim;
    kn_shape_strides(r, x->shape, cs);
    for (int d = 0; d < r; d++) {
        shape[2 * d] = x->shape[d] ? y->shape[d] / x->shape[d] : 0;
        shape[2 * d + 1] = x->shape[d];
        xs[2 * d] = 0;
        xs[2 * d + 1] = cs[d];
    }
    kn_shape_strides(2 * r, shape, ys);
    return KN_KCALL(c->k, copy_strided, kn_dtype_size(x->dtype), 2 * r, shape, x->data, xs, y->data, ys);
}

const kn_op_def kn_op_tile = {
    .name = "Tile", .domain = "", .infer_data = 1u << 1,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = tile_infer, .forward = tile_forward,
};
