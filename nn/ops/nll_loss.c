/* NegativeLogLikelihoodLoss (ONNX, opset 12+): input log-probabilities
 * [N, C, D1...], target [N, D1...] (int64 or int32), optional weight [C];
 * attributes reduction (none | sum | mean, default mean) and ignore_index.
 * The loss is [N, D1...] for none, else a scalar. Gradient wrt the input
 * only. Shares its conventions with SoftmaxCrossEntropyLoss
 * (nn/ops/softmax_xent.c), minus the softmax. */
#include "nn/ops/loss_common.h"

#include <string.h>

static kn_status nll_infer(kn_op_ctx *c) { return kn_loss_infer(c, "input", "target"); }

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
    kn_loss_cfg cfg;
    KN_TRY(kn_loss_config(c, &cfg));
    int64_t n, ch, inner;
    kn_loss_geometry(c->in[0], &n, &ch, &inner);
    const int64_t *labels;
    KN_TRY(nll_labels(c, &labels));
    const kn_tensor *w = KN_IN(c, 2);
    return KN_KCALL(c->k, nll_fwd, n, ch, inner, c->in[0]->data, labels, w ? w->data : NULL, cfg.ignore_index,
                    cfg.reduction, c->out[0]->data);
}

static kn_status nll_backward(kn_op_ctx *c)
{
    if (!c->gin[0] || !c->gout[0]) return KN_OK;
    kn_loss_cfg cfg;
    KN_TRY(kn_loss_config(c, &cfg));
    int64_t n, ch, inner;
    kn_loss_geometry(c->in[0], &n, &ch, &inner);
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
