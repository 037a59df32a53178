/* Split (ONNX 1-21): cut the input along `axis` (default 0) into the outputs.
 * Part sizes come from the `split` attribute (before opset 13; opset 1 also
 * took it as input 1) or input 1 (from opset 13); without them the parts are
 * equal, which must divide the dim exactly, except with num_outputs (opset
 * 18) where parts are ceil(dim / n) and the last takes the rest. */
#include "nn/ops/shape_util.h"

#define MAX_PARTS 64

/* Part sizes along the axis; an unknown dim leaves them unknown unless given. */
static kn_status split_parts(const kn_op_ctx *c, int *axis_out, const kn_tensor *x, int64_t *parts)
{
    int64_t axis, nout_attr;
    int n;
    char a[400];
    KN_TRY(kn_attr_int(c->node, "axis", 0, &axis));
    KN_TRY(kn_op_axis(c, axis, x->ndim, axis_out));
    const int64_t dim = x->shape[*axis_out];
    KN_TRY(kn_shape_ints_arg(c, 1, 13, "split", parts, MAX_PARTS, &n));
    KN_TRY(kn_attr_int(c->node, "num_outputs", 0, &nout_attr));
    if (n >= 0) {
        if (nout_attr > 0)
            return kn_node_error(c->node, KN_ERR_INVALID, "both 'split' and num_outputs = %lld are given", (long long)nout_attr);
        if (n != c->n_out)
            return kn_node_error(c->node, KN_ERR_INVALID, "split %s has %d parts for %d outputs",
                                 kn_ints_str(a, sizeof a, n, parts), n, c->n_out);
        int64_t sum = 0;
        for (int i = 0; i < n; i++) {
            if (parts[i] < 0)
                return kn_node_error(c->node, KN_ERR_INVALID, "split %s has a negative part", kn_ints_str(a, sizeof a, n, parts));
            sum += parts[i];
        }
        if (dim != KN_DIM_UNKNOWN && sum != dim)
            return kn_node_error(c->node, KN_ERR_SHAPE, "split %s sums to %lld, axis %d has %lld",
                                 kn_ints_str(a, sizeof a, n, parts), (long long)sum, *axis_out, (long long)dim);
        return KN_OK;
    }
    int k = c->n_out;
    if (nout_attr > 0 && nout_attr != k)
        return kn_node_error(c->node, KN_ERR_INVALID, "num_outputs = %lld but the node has %d outputs", (long long)nout_attr, k);
    for (int i = 0; i < k; i++) parts[i] = KN_DIM_UNKNOWN;
    if (dim == KN_DIM_UNKNOWN) return KN_OK;
    if (nout_attr > 0 && c->opset >= 18) {
        int64_t each = (dim + k - 1) / k, left = dim;
        for (int i = 0; i < k; i++) {
            parts[i] = each < left ? each : left;
            left -= parts[i];
        }
        return KN_OK;
    }
    if (dim % k != 0)
        return kn_node_error(c->node, KN_ERR_SHAPE, "axis %d of size %lld does not split into %d equal parts", *axis_out,
                             (long long)dim, k);
    for (int i = 0; i < k; i++) parts[i] = dim / k;
    return KN_OK;
}

static kn_status split_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    int64_t parts[MAX_PARTS], y[KN_MAX_DIMS];
    int axis;
    if (x->ndim == 0) return kn_node_error(c->node, KN_ERR_SHAPE, "cannot split a scalar");
    if (c->n_out > MAX_PARTS) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "more than %d outputs", MAX_PARTS);
    KN_TRY(split_parts(c, &axis, x, parts));
    for (int i = 0; i < c->n_out; i++) {
        for (int d = 0; d < x->ndim; d++) y[d] = x->shape[d];
        y[axis] = parts[i];
        kn_op_set_out(c, i, x->dtype, x->ndim, y);
    }
    return KN_OK;
}

static void bands(const kn_tensor *x, int axis, int64_t *outer, int64_t *inner)
{
    *outer = 1;
    *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) *inner *= x->shape[d];
}

static kn_status split_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    int64_t parts[MAX_PARTS], outer, inner, off = 0;
    int axis;
    if (x->dtype == KN_STRING) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "string tensors are not supported");
    KN_TRY(split_parts(c, &axis, x, parts));
    bands(x, axis, &outer, &inner);
    size_t es = kn_dtype_size(x->dtype), src_row = (size_t)(x->shape[axis] * inner) * es;
    for (int i = 0; i < c->n_out; i++) {
        size_t row = (size_t)(parts[i] * inner) * es;
        if (row && outer && c->out[i]->data)
            KN_TRY(KN_KCALL(c->k, copy2d, outer, row, (const char *)x->data + (size_t)off * es, src_row, c->out[i]->data, row));
        off += parts[i] * inner;
    }
    return KN_OK;
}

static kn_status split_backward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    if (!c->gin[0]) return KN_OK;
    int64_t parts[MAX_PARTS], outer, inner, off = 0;
    int axis;
    KN_TRY(split_parts(c, &axis, x, parts));
    bands(x, axis, &outer, &inner);
    for (int i = 0; i < c->n_out; i++) {
        int64_t w = parts[i] * inner;
        if (c->gout[i]) {
            int64_t shape[2] = {outer, w}, gs[2] = {w, 1}, xs[2] = {x->shape[axis] * inner, 1};
            KN_TRY(KN_KCALL(c->k, add_strided, 2, shape, c->gout[i]->data, gs, (float *)c->gin[0]->data + off, xs));
        }
        off += w;
    }
    return KN_OK;
}

const kn_op_def kn_op_split = {
    .name = "Split", .domain = "", .infer_data = 1u << 1,
    .min_inputs = 1, .max_inputs = 2, .min_outputs = 1, .max_outputs = MAX_PARTS,
    .infer = split_infer, .forward = split_forward, .backward = split_backward,
};
