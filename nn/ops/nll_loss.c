/* NegativeLogLikelihoodLoss (ONNX, opset 12+): input log-probabilities
 * [N, C, D1...], target [N, D1...] (int64 or int32), optional weight [C];
 * attributes reduction (none | sum | mean, default mean) and ignore_index.
 * The loss is [N, D1...] for none, else a scalar. Gradient wrt the input
 * only. Shares its conventions with SoftmaxCrossEntropyLoss
 * (nn/ops/softmax_xent.c), minus the softmax. */
#include "nn/op.h"

#include <string.h>

#define NO_IGNORE INT64_MIN /* no ignore_index attribute: no label equals this */

typedef struct nll_cfg {
    int reduction; /* 0 none, 1 sum, 2 mean (the kernel's numbering) */
    int64_t ignore_index;
} nll_cfg;

static kn_status nll_config(const kn_op_ctx *c, nll_cfg *cfg)
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
    KN_TRY(kn_attr_int(c->node, "ignore_index", NO_IGNORE, &cfg->ignore_index));
    return KN_OK;
}

static kn_status nll_infer(kn_op_ctx *c)
{
    nll_cfg cfg;
    KN_TRY(nll_config(c, &cfg));
    const kn_tensor *x = c->in[0], *t = c->in[1], *w = KN_IN(c, 2);
    char sx[160], st[160];
    if (x->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "input is %s; only float is supported", kn_dtype_name(x->dtype));
    if (t->dtype != KN_INT64 && t->dtype != KN_INT32)
        return kn_node_error(c->node, KN_ERR_SHAPE, "target must be int64 or int32, got %s", kn_dtype_name(t->dtype));
    if (x->ndim < 2 || t->ndim != x->ndim - 1)
        return kn_node_error(c->node, KN_ERR_SHAPE, "input %s must be [N, C, D...] and target %s [N, D...]",
                             kn_shape_str(sx, sizeof sx, x->ndim, x->shape), kn_shape_str(st, sizeof st, t->ndim, t->shape));
    int64_t lshape[KN_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) {
        const int64_t a = x->shape[d == 0 ? 0 : d + 1], b = t->shape[d];
        if (a >= 0 && b >= 0 && a != b)
            return kn_node_error(c->node, KN_ERR_SHAPE, "target %s does not match input %s (dim %d)",
                                 kn_shape_str(st, sizeof st, t->ndim, t->shape), kn_shape_str(sx, sizeof sx, x->ndim, x->shape), d);
        lshape[d] = a >= 0 ? a : b;
    }
    if (w) {
        if (w->dtype != KN_FLOAT)
            return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "weight is %s; only float is supported", kn_dtype_name(w->dtype));
        if (w->ndim != 1 || (x->shape[1] >= 0 && w->shape[0] >= 0 && w->shape[0] != x->shape[1]))
            return kn_node_error(c->node, KN_ERR_SHAPE, "weight %s must be [C] for input %s",
                                 kn_shape_str(st, sizeof st, w->ndim, w->shape), kn_shape_str(sx, sizeof sx, x->ndim, x->shape));
    }
    if (cfg.reduction == 0) kn_op_set_out(c, 0, KN_FLOAT, t->ndim, lshape);
    else kn_op_set_out(c, 0, KN_FLOAT, 0, NULL);
    return KN_OK;
}

static void nll_geometry(const kn_tensor *x, int64_t *n, int64_t *ch, int64_t *inner)
{
    *n = x->shape[0];
    *ch = x->shape[1];
    *inner = 1;
    for (int d = 2; d < x->ndim; d++) *inner *= x->shape[d];
}

static size_t nll_workspace(kn_op_ctx *c)
{
    /* int32 targets are widened to the kernel's int64 here */
    return c->in[1]->dtype == KN_INT32 ? sizeof(int64_t) * (size_t)kn_tensor_numel(c->in[1]) : 0;
}

static kn_status nll_labels(kn_op_ctx *c, const int64_t **labels)
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

static kn_status nll_forward(kn_op_ctx *c)
{
    nll_cfg cfg;
    KN_TRY(nll_config(c, &cfg));
    int64_t n, ch, inner;
    nll_geometry(c->in[0], &n, &ch, &inner);
    const int64_t *labels;
    KN_TRY(nll_labels(c, &labels));
    const kn_tensor *w = KN_IN(c, 2);
    return KN_KCALL(c->k, nll_fwd, n, ch, inner, c->in[0]->data, labels, w ? w->data : NULL, cfg.ignore_index,
                    cfg.reduction, c->out[0]->data);
}

static kn_status nll_backward(kn_op_ctx *c)
{
    if (!c->gin[0] || !c->gout[0]) return KN_OK;
    nll_cfg cfg;
    KN_TRY(nll_config(c, &cfg));
    int64_t n, ch, inner;
    nll_geometry(c->in[0], &n, &ch, &inner);
    const int64_t *labels;
    KN_TRY(nll_labels(c, &labels));
    const kn_tensor *w = KN_IN(c, 2);
    return KN_KCALL(c->k, nll_bwd, n, ch, inner, labels, w ? w->data : NULL, cfg.ignore_index, cfg.reduction,
                    c->gout[0]->data, c->gin[0]->data);
}

const kn_op_def kn_op_nll_loss = {
    .name = "NegativeLogLikelihoodLoss", .domain = "", .min_inputs = 2, .max_inputs = 3, .min_outputs = 1,
    .max_outputs = 1, .infer = nll_infer, .forward = nll_forward, .backward = nll_backward,
    .workspace = nll_workspace,
};
