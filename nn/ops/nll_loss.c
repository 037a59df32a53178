/* NegativeLogLikelihoodLoss (ONNX, opset 12+): input log-probabilities
 * [N, C, D1...], target [N, D1...] (int64 or int32), optional weight [C];
 * attributes reduction (none | sum | mean, default mean) and ignore_index.
 * The loss is [N, D1...] for none, else a scalar. Gradient wrt the input
 * only. Shares its conventions with SoftmaxCrossEntropyLoss
 * (nn/ops/softmax_xent.c), minus the softmax. */
#include "nn/ops/loss_common.h"

#include <string.h>

static kn_status nll_infer(kn_op_ctx *c) { return kn_loss_infer(c, "input", "target"); }

static kn_status nll_forward(kn_op_ctx *c)
{
    kn_loss_cfg cfg;
    KN_TRY(kn_loss_config(c, &cfg));
    int64_t n, ch, inner;
    kn_loss_geometry(c->in[0], &n, &ch, &inner);
    const int64_t *labels;
    KN_TRY(kn_loss_labels(c, &labels));
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
    KN_TRY(kn_loss_labels(c, &labels));
    const kn_tensor *w = KN_IN(c, 2);
    return KN_KCALL(c->k, nll_bwd, n, ch, inner, labels, w ? w->data : NULL, cfg.ignore_index, cfg.reduction,
                    c->gout[0]->data, c->gin[0]->data);
}

const kn_op_def kn_op_nll_loss = {
    .name = "NegativeLogLikelihoodLoss", .domain = "", .min_inputs = 2, .max_inputs = 3, .min_outputs = 1,
    .max_outputs = 1, .infer = nll_infer, .forward = nll_forward, .backward = nll_backward,
    .workspace = kn_loss_workspace,
};
