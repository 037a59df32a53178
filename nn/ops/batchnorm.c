/* BatchNormalization (ONNX, opsets 6..15+) over X [N, C, spatial...].
 *
 * Statistics used to normalise:
 * - running (input_mean, input_var): inference, training_mode = 0;
 * - batch (biased variance): a kiln training session, or ONNX training mode
 *   (training_mode = 1 from opset 14; extra outputs requested before 14).
 *
 * In a kiln training session the running statistics in inputs 3 and 4 are
 * updated IN PLACE (they share storage with the graph's initializers, which
 * is how trained statistics reach export), PyTorch style: the running
 * variance takes the unbiased batch variance. The saved mean and 1/std live
 * in state[0], state[1] for backward.
 *
 * ONNX training mode outside a kiln training session leaves the inputs alone
 * and follows the ONNX reference for the optional outputs: running_var
 * blends the biased batch variance. Before opset 14 the outputs are
 * (Y, mean, var, saved_mean, saved_var), with saved_var the batch variance.
 * In a kiln training session outputs 1 and 2 are the in-place updated
 * statistics. Float32 only; spatial = 0 (opsets 6-8) is not supported. */
#include "nn/op.h"
#include "nn/split.h"

#include <math.h>
#include <stdlib.h>

typedef struct bn_cfg {
    float eps, momentum;
    bool onnx_training; /* ONNX training-mode semantics requested by the node */
    bool batch;         /* normalise with batch statistics */
} bn_cfg;

static kn_status bn_config(const kn_op_ctx *c, bn_cfg *cfg)
{
    const kn_node *n = c->node;
    int64_t training_mode = 0, spatial = 1;
    if (c->opset < 6)
        return kn_node_error(n, KN_ERR_UNSUPPORTED, "BatchNormalization before opset 6 (consumed_inputs) is not supported (opset %d)", c->opset);
    KN_TRY(kn_attr_float(n, "epsilon", 1e-5f, &cfg->eps));
    KN_TRY(kn_attr_float(n, "momentum", 0.9f, &cfg->momentum));
    if (c->opset < 9) {
        KN_TRY(kn_attr_int(n, "spatial", 1, &spatial));
        if (spatial != 1)
            return kn_node_error(n, KN_ERR_UNSUPPORTED, "spatial=%lld (per-activation statistics) is not supported", (long long)spatial);
    }
    if (c->opset >= 14) {
        KN_TRY(kn_attr_int(n, "training_mode", 0, &training_mode));
        if (c->n_out > 3)
            return kn_node_error(n, KN_ERR_INVALID, "%d outputs; opset %d allows at most 3", c->n_out, c->opset);
        cfg->onnx_training = training_mode != 0;
    } else {
        cfg->onnx_training = c->n_out > 1; /* the optional outputs are what asked for training */
    }
    cfg->batch = c->training || cfg->onnx_training;
    return KN_OK;
}

static kn_status bn_infer(kn_op_ctx *c)
{
    bn_cfg cfg;
    KN_TRY(bn_config(c, &cfg));
    const kn_tensor *x = c->in[0];
    char sx[160], sp[160];
    static const char *names[5] = {"X", "scale", "B", "input_mean", "input_var"};
    for (int i = 0; i < 5; i++)
        if (!KN_IN(c, i))
            return kn_node_error(c->node, KN_ERR_INVALID, "input %d (%s) is required", i, names[i]);
    for (int i = 0; i < 5; i++)
        if (c->in[i]->dtype != KN_FLOAT)
            return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "%s is %s; only float is supported", names[i],
                                 kn_dtype_name(c->in[i]->dtype));
    if (x->ndim < 2)
        return kn_node_error(c->node, KN_ERR_SHAPE, "X must be [N, C, ...] (rank >= 2), got %s",
                             kn_shape_str(sx, sizeof sx, x->ndim, x->shape));
    int64_t ch = x->shape[1];
    for (int i = 1; i < 5; i++) {
        const kn_tensor *p = c->in[i];
        if (p->ndim != 1 || (ch != KN_DIM_UNKNOWN && p->shape[0] != KN_DIM_UNKNOWN && p->shape[0] != ch))
            return kn_node_error(c->node, KN_ERR_SHAPE, "%s must be [C] with C = %lld from X %s, got %s", names[i],
                                 (long long)ch, kn_shape_str(sx, sizeof sx, x->ndim, x->shape),
                                 kn_shape_str(sp, sizeof sp, p->ndim, p->shape));
        if (ch == KN_DIM_UNKNOWN) ch = p->shape[0];
    }
    kn_op_set_out(c, 0, KN_FLOAT, x->ndim, x->shape);
    for (int o = 1; o < c->n_out; o++) kn_op_set_out(c, o, KN_FLOAT, 1, &ch);
    return KN_OK;
}

static kn_status ensure_state(kn_op_ctx *c, int i, int64_t ch)
{
    kn_tensor *t = &c->state[i];
    if (t->data && t->dtype == KN_FLOAT && t->ndim == 1 && t->shape[0] == ch && t->device == c->device)
        return KN_OK;
    kn_tensor_release(t);
    return kn_tensor_init_on(t, KN_FLOAT, 1, &ch, c->device);
}

static kn_status copy_vec(const kn_op_ctx *c, float *dst, const float *src, int64_t ch)
{
    return c->k->memcpy_d2d(dst, src, sizeof(float) * (size_t)ch);
}

/* ONNX-convention optional outputs from the saved batch statistics: the batch
 * variance is recovered from 1/std, and blended into running_mean/var unless
 * the caller already wrote outputs 1 and 2 (skip_running). Per-channel vectors
 * are small, so this goes through host memory whatever the device. */
static kn_status onnx_outputs(kn_op_ctx *c, const bn_cfg *cfg, int64_t ch, bool skip_running)
{
    float *h = malloc(sizeof(float) * 8 * (size_t)(ch ? ch : 1));
    if (!h) return kn_node_error(c->node, KN_ERR_NOMEM, "out of memory for %lld channel statistics", (long long)ch);
    float *mean = h, *var = h + ch, *sm = h + 2 * ch, *si = h + 3 * ch, *o[4] = {h + 4 * ch, h + 5 * ch, h + 6 * ch, h + 7 * ch};
    const size_t bytes = sizeof(float) * (size_t)ch;
    kn_status st = c->k->memcpy_d2h(mean, c->in[3]->data, bytes);
    if (st == KN_OK) st = c->k->memcpy_d2h(var, c->in[4]->data, bytes);
    if (st == KN_OK) st = c->k->memcpy_d2h(sm, c->state[0].data, bytes);
    if (st == KN_OK) st = c->k->memcpy_d2h(si, c->state[1].data, bytes);
    for (int64_t i = 0; st == KN_OK && i < ch; i++) {
        const double bvar = 1.0 / ((double)si[i] * si[i]) - (double)cfg->eps;
        o[0][i] = (float)(mean[i] * (double)cfg->momentum + sm[i] * (1.0 - cfg->momentum));
        o[1][i] = (float)(var[i] * (double)cfg->momentum + bvar * (1.0 - cfg->momentum));
        o[2][i] = sm[i];
        o[3][i] = (float)bvar;
    }
    for (int j = skip_running ? 2 : 0; st == KN_OK && j < 4 && j + 1 < c->n_out; j++)
        if (c->out[j + 1]->data) st = c->k->memcpy_h2d(c->out[j + 1]->data, o[j], bytes);
    free(h);
    return st;
}

static void bn_geometry(const kn_tensor *x, int64_t *n, int64_t *ch, int64_t *spatial)
{
    *n = x->shape[0];
    *ch = x->shape[1];
    *spatial = 1;
    for (int d = 2; d < x->ndim; d++) *spatial *= x->shape[d];
}

static size_t bn_workspace(kn_op_ctx *c)
{
    bn_cfg cfg;
    if (bn_config(c, &cfg) != KN_OK) return 0;
    /* a split batch: per-channel double sums to all-reduce (two per channel, plus the count) */
    if (c->group && cfg.batch) return sizeof(double) * (2 * (size_t)c->in[0]->shape[1] + 1);
    /* scratch running statistics when the inputs must not change */
    return cfg.batch && !c->training ? sizeof(float) * 2 * (size_t)c->in[0]->shape[1] : 0;
}

/* Training on a batch split across replicas (sync BN): the statistics are those of the
 * whole batch, from per-channel sums all-reduced over the group (sum, then squared
 * deviations from the global mean: the same two passes as the one-call kernel).
 * Rank 0 alone updates the shared running statistics. */
static kn_status bn_forward_split(kn_op_ctx *c, const bn_cfg *cfg, int64_t n, int64_t ch, int64_t spatial)
{
    const kn_tensor *x = c->in[0];
    double *buf = c->ws;
    if (!buf || c->ws_bytes < sizeof(double) * (size_t)(2 * ch + 1))
        return kn_node_error(c->node, KN_ERR_INTERNAL, "workspace missing for split batch statistics");
    float *sm = c->state[0].data, *si = c->state[1].data, *rm = c->in[3]->data, *rv = c->in[4]->data;
    KN_TRY(KN_KCALL(c->k, batchnorm_sums, n, ch, spatial, x->data, NULL, buf));
    buf[ch] = (double)(n * spatial);
    KN_TRY(kn_group_allreduce(c->group, c->rank, buf, ch + 1));
    const double count = buf[ch];
    for (int64_t i = 0; i < ch; i++) sm[i] = (float)(buf[i] / count);
    KN_TRY(KN_KCALL(c->k, batchnorm_sums, n, ch, spatial, x->data, sm, buf));
    KN_TRY(kn_group_allreduce(c->group, c->rank, buf, ch));
    for (int64_t i = 0; i < ch; i++) {
        const double var = buf[i] / count;
        si[i] = (float)(1.0 / sqrt(var + (double)cfg->eps));
        if (c->rank == 0) {
            const double unbiased = count > 1 ? buf[i] / (count - 1) : var;
            rm[i] = rm[i] * cfg->momentum + sm[i] * (1.0f - cfg->momentum);
            rv[i] = rv[i] * cfg->momentum + (float)unbiased * (1.0f - cfg->momentum);
        }
    }
    return KN_KCALL(c->k, batchnorm_apply, n, ch, spatial, x->data, c->in[1]->data, c->in[2]->data, sm, si,
                    c->out[0]->data);
}

/* Each replica adds its own part of the scale/bias gradients (the session sums replicas'
 * parameter gradients afterwards); dx needs the whole batch's sums. */
static kn_status bn_backward_split(kn_op_ctx *c, int64_t n, int64_t ch, int64_t spatial, float *gx, float *gs,
                                   float *gb)
{
    double *sg = c->ws, *sgd = sg ? sg + ch : NULL;
    if (!sg || c->ws_bytes < sizeof(double) * (size_t)(2 * ch + 1))
        return kn_node_error(c->node, KN_ERR_INTERNAL, "workspace missing for split batch statistics");
    const float *x = c->in[0]->data, *gy = c->gout[0]->data, *sm = c->state[0].data, *si = c->state[1].data;
    KN_TRY(KN_KCALL(c->k, batchnorm_grad_sums, n, ch, spatial, x, gy, sm, sg, sgd));
    for (int64_t i = 0; i < ch; i++) {
        if (gs) gs[i] += (float)(sgd[i] * si[i]);
        if (gb) gb[i] += (float)sg[i];
    }
    sgd[ch] = (double)(n * spatial); /* the count rides along after the two sums */
    KN_TRY(kn_group_allreduce(c->group, c->rank, sg, 2 * ch + 1));
    if (!gx) return KN_OK;
    return KN_KCALL(c->k, batchnorm_grad_apply, n, ch, spatial, x, gy, c->in[1]->data, sm, si, sg, sgd, sgd[ch], gx);
}

static kn_status bn_forward(kn_op_ctx *c)
{
    bn_cfg cfg;
    KN_TRY(bn_config(c, &cfg));
    const kn_tensor *x = c->in[0];
    const float *scale = c->in[1]->data, *bias = c->in[2]->data;
    float *mean = c->in[3]->data, *var = c->in[4]->data, *y = c->out[0]->data;
    int64_t n, ch, spatial;
    bn_geometry(x, &n, &ch, &spatial);
    if (!cfg.batch) {
        KN_TRY(KN_KCALL(c->k, batchnorm_infer, n, ch, spatial, x->data, scale, bias, mean, var, cfg.eps, y));
        /* running statistics pass through unchanged */
        if (c->n_out > 1 && c->out[1]->data) KN_TRY(copy_vec(c, c->out[1]->data, mean, ch));
        if (c->n_out > 2 && c->out[2]->data) KN_TRY(copy_vec(c, c->out[2]->data, var, ch));
        return KN_OK;
    }
    if (n * spatial == 0)
        return kn_node_error(c->node, KN_ERR_SHAPE, "batch statistics need at least one element per channel");
    KN_TRY(ensure_state(c, 0, ch));
    KN_TRY(ensure_state(c, 1, ch));
    float *sm = c->state[0].data, *si = c->state[1].data;
    if (c->training && c->group) return bn_forward_split(c, &cfg, n, ch, spatial);
    if (c->training) {
        KN_TRY(KN_KCALL(c->k, batchnorm_train, n, ch, spatial, x->data, scale, bias, cfg.eps, cfg.momentum,
                        mean, var, y, sm, si));
        if (c->n_out > 1 && c->out[1]->data) KN_TRY(copy_vec(c, c->out[1]->data, mean, ch));
        if (c->n_out > 2 && c->out[2]->data) KN_TRY(copy_vec(c, c->out[2]->data, var, ch));
        return c->n_out > 3 ? onnx_outputs(c, &cfg, ch, true) : KN_OK;
    }
    if (!c->ws || c->ws_bytes < sizeof(float) * 2 * (size_t)ch)
        return kn_node_error(c->node, KN_ERR_INTERNAL, "workspace missing for scratch running statistics");
    float *scratch = c->ws;
    KN_TRY(c->k->memset0(scratch, sizeof(float) * 2 * (size_t)ch));
    KN_TRY(KN_KCALL(c->k, batchnorm_train, n, ch, spatial, x->data, scale, bias, cfg.eps, cfg.momentum,
                    scratch, scratch + ch, y, sm, si));
    return c->n_out > 1 ? onnx_outputs(c, &cfg, ch, false) : KN_OK;
}

static kn_status bn_backward(kn_op_ctx *c)
{
    if (!c->gout[0]) return KN_OK;
    float *gx = c->gin[0] ? c->gin[0]->data : NULL, *gs = c->gin[1] ? c->gin[1]->data : NULL;
    float *gb = c->gin[2] ? c->gin[2]->data : NULL;
    if (!gx && !gs && !gb) return KN_OK;
    bn_cfg cfg;
    KN_TRY(bn_config(c, &cfg));
    if (!cfg.batch)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED,
                             "the gradient with running statistics (inference mode) is not implemented; "
                             "train in a training session, which uses batch statistics");
    const kn_tensor *x = c->in[0];
    int64_t n, ch, spatial;
    bn_geometry(x, &n, &ch, &spatial);
    if (!c->state[0].data || !c->state[1].data || c->state[0].shape[0] != ch)
        return kn_node_error(c->node, KN_ERR_INTERNAL, "backward without the saved statistics of a forward run");
    if (c->group) return bn_backward_split(c, n, ch, spatial, gx, gs, gb);
    return KN_KCALL(c->k, batchnorm_bwd, n, ch, spatial, x->data, c->gout[0]->data, c->in[1]->data,
                    c->state[0].data, c->state[1].data, gx, gs, gb);
}

const kn_op_def kn_op_batchnorm = {
    .name = "BatchNormalization", .domain = "", .min_inputs = 5, .max_inputs = 5, .min_outputs = 1, .max_outputs = 5,
    .infer = bn_infer, .forward = bn_forward, .backward = bn_backward, .workspace = bn_workspace,
};
