/* Shared by SoftmaxCrossEntropyLoss and NegativeLogLikelihoodLoss: the
 * attributes (reduction, ignore_index) and the shape rules (input [N, C, D...],
 * target [N, D...] int64/int32, optional weights [C]) are the same. */
#include "nn/ops/loss_common.h"

#include <string.h>

kn_status kn_loss_config(const kn_op_ctx *c, kn_loss_cfg *cfg)
{
    const char *red;
    if (c->opset < 12)
        return kn_node_error(c->node, KN_ERR_INVALID, "%s exists from opset 12; the graph is opset %d",
                             c->node->op_type, c->opset);
    KN_TRY(kn_attr_string(c->node, "reduction", "mean", &red));
    if (!strcmp(red, "none")) cfg->reduction = 0;
    else if (!strcmp(red, "sum")) cfg->reduction = 1;
    else if (!strcmp(red, "mean")) cfg->reduction = 2;
    else return kn_node_error(c->node, KN_ERR_INVALID, "reduction '%s' is not one of none, sum, mean", red);
    KN_TRY(kn_attr_int(c->node, "ignore_index", KN_LOSS_NO_IGNORE, &cfg->ignore_index));
    return KN_OK;
}

kn_status kn_loss_infer(kn_op_ctx *c, const char *input, const char *target)
{
    kn_loss_cfg cfg;
    KN_TRY(kn_loss_config(c, &cfg));
    const kn_tensor *x = c->in[0], *t = c->in[1], *w = KN_IN(c, 2);
    char sx[160], st[160];
    if (x->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "%s is %s; only float is supported", input, kn_dtype_name(x->dtype));
    if (t->dtype != KN_INT64 && t->dtype != KN_INT32)
        return kn_node_error(c->node, KN_ERR_SHAPE, "%s must be int64 or int32, got %s", target, kn_dtype_name(t->dtype));
    if (x->ndim < 2 || t->ndim != x->ndim - 1)
        return kn_node_error(c->node, KN_ERR_SHAPE, "%s %s must be [N, C, D...] and %s %s [N, D...]", input,
                             kn_shape_str(sx, sizeof sx, x->ndim, x->shape), target, kn_shape_str(st, sizeof st, t->ndim, t->shape));
    int64_t lshape[KN_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) {
        const int64_t a = x->shape[d == 0 ? 0 : d + 1], b = t->shape[d];
        if (a >= 0 && b >= 0 && a != b)
            return kn_node_error(c->node, KN_ERR_SHAPE, "%s %s does not match %s %s (dim %d)", target,
                                 kn_shape_str(st, sizeof st, t->ndim, t->shape), input, kn_shape_str(sx, sizeof sx, x->ndim, x->shape), d);
        lshape[d] = a >= 0 ? a : b;
    }
    if (w) {
        if (w->dtype != KN_FLOAT)
            return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "weights are %s; only float is supported", kn_dtype_name(w->dtype));
        if (w->ndim != 1 || (x->shape[1] >= 0 && w->shape[0] >= 0 && w->shape[0] != x->shape[1]))
            return kn_node_error(c->node, KN_ERR_SHAPE, "weights %s must be [C] for %s %s",
                                 kn_shape_str(st, sizeof st, w->ndim, w->shape), input, kn_shape_str(sx, sizeof sx, x->ndim, x->shape));
    }
    if (cfg.reduction == 0) kn_op_set_out(c, 0, KN_FLOAT, t->ndim, lshape);
    else kn_op_set_out(c, 0, KN_FLOAT, 0, NULL);
    if (c->n_out > 1) kn_op_set_out(c, 1, KN_FLOAT, x->ndim, x->shape);
    return KN_OK;
}

void kn_loss_geometry(const kn_tensor *x, int64_t *n, int64_t *ch, int64_t *inner)
{
    *n = x->shape[0];
    *ch = x->shape[1];
    *inner = 1;
    for (int d = 2; d < x->ndim; d++) *inner *= x->shape[d];
}

size_t kn_loss_workspace(kn_op_ctx *c)
{
    /* int32 targets are widened to the kernel's int64 here */
    return c->in[1]->dtype == KN_INT32 ? sizeof(int64_t) * (size_t)kn_tensor_numel(c->in[1]) : 0;
}

kn_status kn_loss_labels(kn_op_ctx *c, const int64_t **labels)
{
    const kn_tensor *t = c->in[1];
    if (t->dtype == KN_INT64) { *labels = t->data; return KN_OK; }
    const int64_t cnt = kn_tensor_numel(t);
    if (!c->ws || c->ws_bytes < sizeof(int64_t) * (size_t)cnt)
        return kn_node_error(c->node, KN_ERR_INTERNAL, "workspace missing for int32 targets");
    if (c->k->cast) {
        KN_TRY(c->k->cast(KN_INT32, KN_INT64, cnt, t->data, c->ws));
    } else if (c->device == KN_CPU) { /* the cast kernel is optional; on the host widening is a loop */
        const int32_t *s = t->data;
        int64_t *d = c->ws;
        for (int64_t i = 0; i < cnt; i++) d[i] = s[i];
    } else {
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "int32 targets need the cast kernel on %s", c->k->name);
    }
    *labels = c->ws;
    return KN_OK;
}
