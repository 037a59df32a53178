/* Transpose (ONNX 1-21): y.shape[i] = x.shape[perm[i]], perm defaulting to
 * the reversed dims. Any dtype (through the transpose kernel); the backward
 * scatters gy back through the inverse permutation with add_strided. */
#include "nn/ops/shape_util.h"

static kn_status read_perm(const kn_op_ctx *c, int r, int *perm)
{
    int64_t p[KN_MAX_DIMS];
    int n;
    char a[160];
    KN_TRY(kn_attr_ints(c->node, "perm", p, KN_MAX_DIMS, &n));
    if (n < 0) {
        for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
        return KN_OK;
    }
    if (n != r)
        return kn_node_error(c->node, KN_ERR_INVALID, "perm %s has %d entries for a rank-%d input",
                             kn_ints_str(a, sizeof a, n, p), n, r);
    unsigned seen = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < 0 || p[i] >= r || (seen >> p[i] & 1))
            return kn_node_error(c->node, KN_ERR_INVALID, "perm %s is not a permutation of 0..%d",
                                 kn_ints_str(a, sizeof a, n, p), r - 1);
        seen |= 1u << p[i];
        perm[i] = (int)p[i];
    }
    return KN_OK;
}

static kn_status transpose_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    int perm[KN_MAX_DIMS];
    int64_t y[KN_MAX_DIMS];
    KN_TRY(read_perm(c, x->ndim, perm));
    for (int i = 0; i < x->ndim; i++) y[i] = x->shape[perm[i]];
    kn_op_set_out(c, 0, x->dtype, x->ndim, y);
    return KN_OK;
}

static kn_status transpose_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    int perm[KN_MAX_DIMS];
    if (x->dtype == KN_STRING)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "transposing string tensors is not supported");
    KN_TRY(read_perm(c, x->ndim, perm));
    return KN_KCALL(c->k, transpose, kn_dtype_size(x->dtype), x->ndim, x->shape, perm, x->data, c->out[0]->data);
}

static kn_status transpose_backward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0], *gy = c->gout[0];
    if (!gy || !c->gin[0]) return KN_OK;
    int perm[KN_MAX_DIMS];
    int64_t xs[KN_MAX_DIMS], ys[KN_MAX_DIMS], gs[KN_MAX_DIMS];
    KN_TRY(read_perm(c, x->ndim, perm));
    kn_shape_strides(x->ndim, x->shape, xs);
    kn_shape_strides(gy->ndim, gy->shape, ys);
    for (int i = 0; i < x->ndim; i++) gs[i] = xs[perm[i]];
    return KN_KCALL(c->k, add_strided, gy->ndim, gy->shape, gy->data, ys, c->gin[0]->data, gs);
}

const kn_op_def kn_op_transpose = {
    .name = "Transpose", .domain = "",
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = transpose_infer, .forward = transpose_forward, .backward = transpose_backward,
};
