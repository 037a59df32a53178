/* InstanceNormalization (ONNX): y = scale * (x - mean) / sqrt(var + eps) + B
 * with mean and (biased) variance over the spatial dims of each (n, c).
 * That is batch normalization of one sample at a time, so it runs the
 * batchnorm kernels per sample (scratch running statistics are discarded),
 * and keeps the per-sample mean and 1/std in state[0], state[1] for the
 * backward pass. Float32, rank >= 3 ([N, C, D1, ...]). */
#include "nn/op.h"

static kn_status in_infer(kn_op_ctx *c)
{
    static const char *names[3] = {"input", "scale", "B"};
    char sx[160], sp[160];
    for (int i = 0; i < 3; i++) {
        if (!KN_IN(c, i)) return kn_node_error(c->node, KN_ERR_INVALID, "input %d (%s) is required", i, names[i]);
        if (c->in[i]->dtype != KN_FLOAT)
            return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "%s is %s; only float is supported", names[i],
                                 kn_dtype_name(c->in[i]->dtype));
    }
    const kn_tensor *x = c->in[0];
    if (x->ndim < 3)
        return kn_node_error(c->node, KN_ERR_SHAPE, "input must be [N, C, D1, ...] (rank >= 3), got %s",
                             kn_shape_str(sx, sizeof sx, x->ndim, x->shape));
    for (int i = 1; i < 3; i++) {
        const kn_tensor *p = c->in[i];
        if (p->ndim != 1 || (x->shape[1] >= 0 && p->shape[0] >= 0 && p->shape[0] != x->shape[1]))
            return kn_node_error(c->node, KN_ERR_SHAPE, "%s must be [C] for input %s, got %s", names[i],
                                 kn_shape_str(sx, sizeof sx, x->ndim, x->shape), kn_shape_str(sp, sizeof sp, p->ndim, p->shape));
    }
    kn_op_set_out(c, 0, KN_FLOAT, x->ndim, x->shape);
    return KN_OK;
}

static void in_geometry(const kn_tensor *x, int64_t *n, int64_t *ch, int64_t *spatial)
{
    *n = x->shape[0];
    *ch = x->shape[1];
    *spatial = 1;
    for (int d = 2; d < x->ndim; d++) *spatial *= x->shape[d];
}

static size_t in_workspace(kn_op_ctx *c) { return sizeof(float) * 2 * (size_t)c->in[0]->shape[1]; }

static kn_status ensure_state(kn_op_ctx *c, int i, int64_t count)
{
    kn_tensor *t = &c->state[i];
    if (t->data && t->dtype == KN_FLOAT && t->ndim == 1 && t->shape[0] == count && t->device == c->device)
        return KN_OK;
    kn_tensor_release(t);
    return kn_tensor_init_on(t, KN_FLOAT, 1, &count, c->device);
}

static kn_status in_forward(kn_op_ctx *c)
{
    float eps;
    KN_TRY(kn_attr_float(c->node, "epsilon", 1e-5f, &eps));
    const kn_tensor *x = c->in[0];
    int64_t n, ch, spatial;
    in_geometry(x, &n, &ch, &spatial);
    if (spatial == 0 && n * ch > 0)
        return kn_node_error(c->node, KN_ERR_SHAPE, "instance statistics need at least one spatial element");
    if (!c->ws || c->ws_bytes < sizeof(float) * 2 * (size_t)ch)
        return kn_node_error(c->node, KN_ERR_INTERNAL, "workspace missing for scratch statistics");
    KN_TRY(ensure_state(c, 0, n * ch));
    KN_TRY(ensure_state(c, 1, n * ch));
    float *scratch = c->ws, *sm = c->state[0].data, *si = c->state[1].data;
    const float *xd = x->data;
    float *yd = c->out[0]->data;
    for (int64_t b = 0; b < n; b++)
        KN_TRY(KN_KCALL(c->k, batchnorm_train, 1, ch, spatial, xd + b * ch * spatial, c->in[1]->data,
                        c->in[2]->data, eps, 0.0f, scratch, scratch + ch, yd + b * ch * spatial, sm + b * ch,
                        si + b * ch));
    return KN_OK;
}

static kn_status in_backward(kn_op_ctx *c)
{
    if (!c->gout[0]) return KN_OK;
    float *gx = c->gin[0] ? c->gin[0]->data : NULL, *gs = c->gin[1] ? c->gin[1]->data : NULL;
    float *gb = c->gin[2] ? c->gin[2]->data : NULL;
    if (!gx && !gs && !gb) return KN_OK;
    const kn_tensor *x = c->in[0];
    int64_t n, ch, spatial;
    in_geometry(x, &n, &ch, &spatial);
    if (!c->state[0].data || c->state[0].shape[0] != n * ch)
        return kn_node_error(c->node, KN_ERR_INTERNAL, "backward without the saved statistics of a forward run");
    const float *xd = x->data, *gy = c->gout[0]->data, *sm = c->state[0].data, *si = c->state[1].data;
    /* scale and bias gradients accumulate across samples, as the kernel adds into them */
    for (int64_t b = 0; b < n; b++) {
        const int64_t off = b * ch * spatial;
        KN_TRY(KN_KCALL(c->k, batchnorm_bwd, 1, ch, spatial, xd + off, gy + off, c->in[1]->data, sm + b * ch,
                        si + b * ch, gx ? gx + off : NULL, gs, gb));
    }
    return KN_OK;
}

const kn_op_def kn_op_instance_norm = {
    .name = "InstanceNormalization", .domain = "", .min_inputs = 3, .max_inputs = 3, .min_outputs = 1,
    .max_outputs = 1, .infer = in_infer, .forward = in_forward, .backward = in_backward, .workspace = in_workspace,
};
