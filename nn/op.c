#include "nn/op.h"

#include <string.h>

kn_status kn_op_expect_dtype(const kn_op_ctx *c, int input, kn_dtype dtype)
{
    const kn_tensor *t = KN_IN(c, input);
    if (!t) return kn_node_error(c->node, KN_ERR_INVALID, "input %d is required", input);
    if (t->dtype != dtype)
        return kn_node_error(c->node, KN_ERR_SHAPE, "input %d must be %s, got %s", input, kn_dtype_name(dtype),
                             kn_dtype_name(t->dtype));
    return KN_OK;
}

kn_status kn_op_expect_rank(const kn_op_ctx *c, int input, int ndim)
{
    const kn_tensor *t = KN_IN(c, input);
    char s[160];
    if (!t) return kn_node_error(c->node, KN_ERR_INVALID, "input %d is required", input);
    if (t->ndim != ndim)
        return kn_node_error(c->node, KN_ERR_SHAPE, "input %d must have rank %d, got shape %s", input, ndim,
                             kn_shape_str(s, sizeof s, t->ndim, t->shape));
    return KN_OK;
}

void kn_op_set_out(kn_op_ctx *c, int o, kn_dtype dtype, int ndim, const int64_t *shape)
{
    kn_tensor *t = c->out[o];
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
}

kn_status kn_op_axis(const kn_op_ctx *c, int64_t axis, int rank, int *out)
{
    if (axis < -rank || axis >= rank || (rank == 0 && axis != 0 && axis != -1))
        return kn_node_error(c->node, KN_ERR_INVALID, "axis %lld is out of range for rank %d", (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return KN_OK;
}

kn_status kn_op_broadcast(const kn_op_ctx *c, int na, const int64_t *sa, int nb, const int64_t *sb,
                          int *nout, int64_t *out)
{
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int ia = i - (n - na), ib = i - (n - nb);
        int64_t da = ia >= 0 ? sa[ia] : 1, db = ib >= 0 ? sb[ib] : 1;
        if (da == 1) out[i] = db;
        else if (db == 1) out[i] = da;
        else if (da == KN_DIM_UNKNOWN) out[i] = db;
        else if (db == KN_DIM_UNKNOWN || da == db) out[i] = da;
        else {
            char x[160], y[160];
            return kn_node_error(c->node, KN_ERR_SHAPE, "shapes %s and %s do not broadcast",
                                 kn_shape_str(x, sizeof x, na, sa), kn_shape_str(y, sizeof y, nb, sb));
        }
    }
    *nout = n;
    return KN_OK;
}

kn_status kn_op_legacy_bshape(const kn_op_ctx *c, const kn_tensor *a, const kn_tensor *b, int *nb, int64_t *bshape)
{
    *nb = b->ndim;
    for (int i = 0; i < b->ndim; i++) bshape[i] = b->shape[i];
    if (c->opset >= 7) return KN_OK;
    int64_t broadcast, axis;
    KN_TRY(kn_attr_int(c->node, "broadcast", 0, &broadcast));
    KN_TRY(kn_attr_int(c->node, "axis", a->ndim - b->ndim, &axis));
    char x[160], y[160];
    if (!broadcast) {
        if (!kn_shape_equal(a->ndim, a->shape, b->ndim, b->shape))
            return kn_node_error(c->node, KN_ERR_SHAPE, "shapes %s and %s differ and broadcast=0 (opset %d)",
                                 kn_shape_str(x, sizeof x, a->ndim, a->shape), kn_shape_str(y, sizeof y, b->ndim, b->shape),
                                 c->opset);
        return KN_OK;
    }
    if (axis < 0) axis += a->ndim;
    if (axis < 0 || axis + b->ndim > a->ndim)
        return kn_node_error(c->node, KN_ERR_SHAPE, "legacy broadcast of %s into %s at axis %lld does not fit",
                             kn_shape_str(y, sizeof y, b->ndim, b->shape), kn_shape_str(x, sizeof x, a->ndim, a->shape),
                             (long long)axis);
    *nb = a->ndim;
    for (int i = 0; i < a->ndim; i++) bshape[i] = 1;
    for (int i = 0; i < b->ndim; i++) bshape[axis + i] = b->shape[i];
    return KN_OK;
}

kn_status kn_op_softmax_geometry(const kn_op_ctx *c, const kn_tensor *x, int64_t *outer, int64_t *dim,
                                 int64_t *inner)
{
    const bool old = c->opset < 13;
    int64_t axis;
    int ax;
    KN_TRY(kn_attr_int(c->node, "axis", old ? 1 : -1, &axis));
    if (x->ndim == 0) return kn_node_error(c->node, KN_ERR_SHAPE, "input must have rank >= 1, got a scalar");
    KN_TRY(kn_op_axis(c, axis, x->ndim, &ax));
    *outer = 1; *dim = 1; *inner = 1;
    for (int d = 0; d < x->ndim; d++) {
        int64_t *slot = d < ax ? outer : (d == ax || old ? dim : inner);
        *slot *= x->shape[d];
    }
    return KN_OK;
}

kn_status kn_op_softmax_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    if (x->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "input is %s; only float is supported", kn_dtype_name(x->dtype));
    int64_t outer, dim, inner; /* validates rank and axis; the products (maybe of unknown dims) go unused */
    KN_TRY(kn_op_softmax_geometry(c, x, &outer, &dim, &inner));
    kn_op_set_out(c, 0, KN_FLOAT, x->ndim, x->shape);
    return KN_OK;
}
