/* Where (ONNX): out = condition ? X : Y, with numpy broadcasting of all three.
 * The condition is bool; X and Y share any dtype (the kernel moves elements by
 * size). Float32 backward with respect to X and Y. */
#include "nn/ops/host_scalar.h"

static kn_status where_infer(kn_op_ctx *c)
{
    KN_TRY(kn_require_inputs(c, 3));
    const kn_tensor *cond = c->in[0], *x = c->in[1], *y = c->in[2];
    if (cond->dtype != KN_BOOL)
        return kn_node_error(c->node, KN_ERR_SHAPE, "condition must be bool, got %s", kn_dtype_name(cond->dtype));
    if (x->dtype != y->dtype)
        return kn_node_error(c->node, KN_ERR_SHAPE, "X is %s and Y is %s; they must have one dtype",
                             kn_dtype_name(x->dtype), kn_dtype_name(y->dtype));
    if (x->dtype == KN_STRING || x->dtype == KN_UNDEFINED)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "Where on %s is not supported", kn_dtype_name(x->dtype));
    int n1, n2;
    int64_t s1[KN_MAX_DIMS], s2[KN_MAX_DIMS];
    KN_TRY(kn_op_broadcast(c, x->ndim, x->shape, y->ndim, y->shape, &n1, s1));
    KN_TRY(kn_op_broadcast(c, cond->ndim, cond->shape, n1, s1, &n2, s2));
    kn_op_set_out(c, 0, x->dtype, n2, s2);
    return KN_OK;
}

/* Broadcast walk of the output: astride = X, bstride = Y, cs = condition. */
static void where_bcast(const kn_op_ctx *c, kn_bcast *bc, int64_t *cs)
{
    const kn_tensor *o = c->out[0];
    bc->ndim = o->ndim;
    for (int d = 0; d < o->ndim; d++) bc->shape[d] = o->shape[d];
    kn_bcast_strides(o->ndim, c->in[1]->ndim, c->in[1]->shape, bc->astride);
    kn_bcast_strides(o->ndim, c->in[2]->ndim, c->in[2]->shape, bc->bstride);
    kn_bcast_strides(o->ndim, c->in[0]->ndim, c->in[0]->shape, cs);
}

static kn_status where_forward(kn_op_ctx *c)
{
    kn_bcast bc;
    int64_t cs[KN_MAX_DIMS];
    where_bcast(c, &bc, cs);
    return KN_KCALL(c->k, where, kn_dtype_size(c->in[1]->dtype), &bc, cs, c->in[0]->data, c->in[1]->data,
                    c->in[2]->data, c->out[0]->data);
}

static kn_status where_backward(kn_op_ctx *c)
{
    if (!c->gout[0] || (!c->gin[1] && !c->gin[2])) return KN_OK;
    if (c->in[1]->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "Where gradient on %s: only float is supported",
                             kn_dtype_name(c->in[1]->dtype));
    kn_bcast bc;
    int64_t cs[KN_MAX_DIMS];
    where_bcast(c, &bc, cs);
    return KN_KCALL(c->k, where_bwd, &bc, cs, c->in[0]->data, c->gout[0]->data, c->gin[1] ? c->gin[1]->data : NULL,
                    c->gin[2] ? c->gin[2]->data : NULL);
}

const kn_op_def kn_op_where = {
    .name = "Where", .domain = "", .min_inputs = 3, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = where_infer, .forward = where_forward, .backward = where_backward,
};
