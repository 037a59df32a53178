/* SoftmaxCrossEntropyLoss (ONNX, opset 12+): scores [N, C, D1...], labels
 * [N, D1...] (int64 or int32), optional weights [C]; attributes reduction
 * (none | sum | mean, default mean) and ignore_index. Output 0 is the loss
 * ([N, D1...] for none, else a scalar), optional output 1 the log-softmax of
 * the scores. The log-probabilities are kept (output 1, or state[0] when it
 * is not requested) for the backward pass. Gradient wrt the scores only. */
#include "nn/ops/loss_common.h"

#include <string.h>

static kn_status xent_infer(kn_op_ctx *c) { return kn_loss_infer(c, "scores", "labels"); }

/* Where the log-probabilities live: output 1 when requested, else state[0]. */
static kn_status xent_log_prob(kn_op_ctx *c, bool create, float **lp)
{
    if (c->n_out > 1 && c->out[1]->data) { *lp = c->out[1]->data; return KN_OK; }
    const kn_tensor *x = c->in[0];
    kn_tensor *s = &c->state[0];
    if (!(s->data && s->device == c->device && kn_shape_equal(s->ndim, s->shape, x->ndim, x->shape))) {
        if (!create) return kn_node_error(c->node, KN_ERR_INTERNAL, "backward without the log-probabilities of a forward run");
        kn_tensor_release(s);
        KN_TRY(kn_tensor_init_on(s, KN_FLOAT, x->ndim, x->shape, c->device));
    }
    *lp = s->data;
    return KN_OK;
}

static kn_status xent_forward(kn_op_ctx *c)
{
    kn_loss_cfg cfg;
    KN_TRY(kn_loss_config(c, &cfg));
    int64_t n, ch, inner;
    kn_loss_geometry(c->in[0], &n, &ch, &inner);
    const int64_t *labels;
    float *lp;
    KN_TRY(kn_loss_labels(c, &labels));
    KN_TRY(xent_log_prob(c, true, &lp));
    const kn_tensor *w = KN_IN(c, 2);
    return KN_KCALL(c->k, softmax_xent_fwd, n, ch, inner, c->in[0]->data, labels, w ? w->data : NULL,
                    cfg.ignore_index, cfg.reduction, c->out[0]->data, lp);
}

static kn_status xent_backward(kn_op_ctx *c)
{
    const kn_tensor *gl = c->gout[0], *glp = c->n_out > 1 ? c->gout[1] : NULL;
    if (!c->gin[0] || (!gl && !glp)) return KN_OK;
    kn_loss_cfg cfg;
    KN_TRY(kn_loss_config(c, &cfg));
    int64_t n, ch, inner;
    kn_loss_geometry(c->in[0], &n, &ch, &inner);
    float *lp;
    KN_TRY(xent_log_prob(c, false, &lp));
    if (gl) {
        const int64_t *labels;
        const kn_tensor *w = KN_IN(c, 2);
        KN_TRY(kn_loss_labels(c, &labels));
        KN_TRY(KN_KCALL(c->k, softmax_xent_bwd, n, ch, inner, lp, labels, w ? w->data : NULL, cfg.ignore_index,
                        cfg.reduction, gl->data, c->gin[0]->data));
    }
    if (glp) /* the log-probabilities used downstream: log-softmax backward */
        KN_TRY(KN_KCALL(c->k, softmax_bwd, true, n, ch, inner, lp, glp->data, c->gin[0]->data));
    return KN_OK;
}

const kn_op_def kn_op_softmax_xent = {
    .name = "SoftmaxCrossEntropyLoss", .domain = "", .min_inputs = 2, .max_inputs = 3, .min_outputs = 1,
    .max_outputs = 2, .infer = xent_infer, .forward = xent_forward, .backward = xent_backward,
    .workspace = kn_loss_workspace,
};
