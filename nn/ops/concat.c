/* Concat (ONNX 1-21): join inputs along `axis` (negative counts from the
 * end; opset 1 defaults it to 1, later opsets require it). Any dtype but
 * string. Each input is one copy2d of [outer] rows into its column band of
 * the output; the backward reads the bands back with add_strided. */
#include "nn/ops/shape_util.h"

static kn_status concat_axis(const kn_op_ctx *c, int r, int *axis)
{
    int64_t a;
    if (c->opset < 4) {
        KN_TRY(kn_attr_int(c->node, "axis", 1, &a));
    } else {
        if (!kn_node_attr(c->node, "axis")) return kn_node_error(c->node, KN_ERR_INVALID, "attribute 'axis' is required");
        KN_TRY(kn_attr_int(c->node, "axis", 0, &a));
    }
    return kn_op_axis(c, a, r, axis);
}

static kn_status concat_infer(kn_op_ctx *c)
{
    const kn_tensor *x0 = NULL;
    for (int i = 0; i < c->n_in && !x0; i++) x0 = c->in[i];
    if (!x0) return kn_node_error(c->node, KN_ERR_INVALID, "needs at least one input");
    int r = x0->ndim, axis;
    if (r == 0) return kn_node_error(c->node, KN_ERR_SHAPE, "cannot concatenate scalars");
    KN_TRY(concat_axis(c, r, &axis));
    int64_t y[KN_MAX_DIMS];
    for (int d = 0; d < r; d++) y[d] = x0->shape[d];
    y[axis] = 0;
    char a[160], b[160];
    for (int i = 0; i < c->n_in; i++) {
        const kn_tensor *x = c->in[i];
        if (!x) return kn_node_error(c->node, KN_ERR_INVALID, "input %d is missing", i);
        if (x->dtype != x0->dtype)
            return kn_node_error(c->node, KN_ERR_SHAPE, "input %d is %s, input 0 is %s", i, kn_dtype_name(x->dtype),
                                 kn_dtype_name(x0->dtype));
        bool fits = x->ndim == r;
        for (int d = 0; fits && d < r; d++) {
            if (d == axis) continue;
            if (x->shape[d] != y[d] && x->shape[d] != KN_DIM_UNKNOWN && y[d] != KN_DIM_UNKNOWN) fits = false;
            else if (y[d] == KN_DIM_UNKNOWN) y[d] = x->shape[d];
        }
        if (!fits)
            return kn_node_error(c->node, KN_ERR_SHAPE, "input %d %s does not fit input 0 %s along axis %d", i,
                                 kn_shape_str(a, sizeof a, x->ndim, x->shape), kn_shape_str(b, sizeof b, r, x0->shape), axis);
        if (y[axis] == KN_DIM_UNKNOWN || x->shape[axis] == KN_DIM_UNKNOWN) y[axis] = KN_DIM_UNKNOWN;
        else y[axis] += x->shape[axis];
    }
    kn_op_set_out(c, 0, x0->dtype, r, y);
    return KN_OK;
}

static void bands(const kn_tensor *y, int axis, int64_t *outer, int64_t *inner)
{
    *outer = 1;
    *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= y->shape[d];
    for (int d = axis + 1; d < y->ndim; d++) *inner *= y->shape[d];
}

static kn_status concat_forward(kn_op_ctx *c)
{
    kn_tensor *y = c->out[0];
    int axis;
    if (y->dtype == KN_STRING) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "string tensors are not supported");
    KN_TRY(concat_axis(c, y->ndim, &axis));
    int64_t outer, inner, off = 0;
    bands(y, axis, &outer, &inner);
    size_t es = kn_dtype_size(y->dtype), dst_row = (size_t)(y->shape[axis] * inner) * es;
    for (int i = 0; i < c->n_in; i++) {
        const kn_tensor *x = c->in[i];
        size_t row = (size_t)(x->shape[axis] * inner) * es;
        if (row && outer)
            KN_TRY(KN_KCALL(c->k, copy2d, outer, row, x->data, row, (char *)y->data + (size_t)off * es, dst_row));
        off += x->shape[axis] * inner;
    }
    return KN_OK;
}

static kn_status concat_backward(kn_op_ctx *c)
{
    const kn_tensor *gy = c->gout[0];
    if (!gy) return KN_OK;
    int axis;
    KN_TRY(concat_axis(c, gy->ndim, &axis));
    int64_t outer, inner, off = 0;
    bands(gy, axis, &outer, &inner);
    for (int i = 0; i < c->n_in; i++) {
        const kn_tensor *x = c->in[i];
        int64_t w = x->shape[axis] * inner;
        if (c->gin[i]) {
            int64_t shape[2] = {outer, w}, ys[2] = {gy->shape[axis] * inner, 1}, xs[2] = {w, 1};
            KN_TRY(KN_KCALL(c->k, add_strided, 2, shape, (const float *)gy->data + off, ys, c->gin[i]->data, xs));
        }
        off += w;
    }
    return KN_OK;
}

const kn_op_def kn_op_concat = {
    .name = "Concat", .domain = "",
    .min_inputs = 1, .max_inputs = 64, .min_outputs = 1, .max_outputs = 1,
    .infer = concat_infer, .forward = concat_forward, .backward = concat_backward,
};
