/* LayerNormalization (ONNX, opset 17): normalize over the dims from `axis` on,
 * then scale and shift. Float32 only (stash_type 1). Scale and B must hold one
 * value per normalized element (numpy broadcasting of smaller Scale/B shapes is
 * KN_ERR_UNSUPPORTED). The per-row mean and inverse standard deviation go to
 * state[0] / state[1] on every run, are copied to the optional Mean and
 * InvStdDev outputs (shape: X's leading dims, then 1s) and feed backward. */
#include "nn/op.h"

typedef struct ln_geom {
    int axis;
    int64_t rows, d; /* only meaningful when every dim is known */
} ln_geom;

static kn_status ln_geom_of(const kn_op_ctx *c, ln_geom *g)
{
    const kn_tensor *x = c->in[0];
    int64_t axis, stash;
    KN_TRY(kn_attr_int(c->node, "axis", -1, &axis));
    KN_TRY(kn_attr_int(c->node, "stash_type", 1, &stash));
    if (stash != 1)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "stash_type %lld is not supported (only 1, float)",
                             (long long)stash);
    KN_TRY(kn_op_axis(c, axis, x->ndim, &g->axis));
    g->rows = g->d = 1;
    for (int i = 0; i < x->ndim; i++) *(i < g->axis ? &g->rows : &g->d) *= x->shape[i];
    return KN_OK;
}

static kn_status ln_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    char s[160];
    if (x->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "X is %s; only float is supported", kn_dtype_name(x->dtype));
    if (x->ndim < 1) return kn_node_error(c->node, KN_ERR_SHAPE, "X must have rank >= 1");
    ln_geom g;
    KN_TRY(ln_geom_of(c, &g));
    bool known = true;
    for (int i = g.axis; i < x->ndim; i++) known &= x->shape[i] != KN_DIM_UNKNOWN;
    for (int i = 1; i < 3; i++) {
        const kn_tensor *p = KN_IN(c, i);
        if (!p) continue;
        if (p->dtype != KN_FLOAT)
            return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "%s is %s; only float is supported",
                                 i == 1 ? "Scale" : "B", kn_dtype_name(p->dtype));
        bool unknown = false;
        int64_t n = 1;
        for (int j = 0; j < p->ndim; j++) {
            unknown |= p->shape[j] == KN_DIM_UNKNOWN;
            if (p->shape[j] != KN_DIM_UNKNOWN) n *= p->shape[j];
        }
        if (known && !unknown && n != g.d)
            return kn_node_error(c->node, KN_ERR_UNSUPPORTED,
                                 "%s %s must hold the %lld normalized elements (broadcasting it is not supported)",
                                 i == 1 ? "Scale" : "B", kn_shape_str(s, sizeof s, p->ndim, p->shape), (long long)g.d);
    }
    kn_op_set_out(c, 0, KN_FLOAT, x->ndim, x->shape);
    int64_t st[KN_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) st[i] = i < g.axis ? x->shape[i] : 1;
    for (int o = 1; o < 3; o++)
        if (c->n_out > o && c->out[o]) kn_op_set_out(c, o, KN_FLOAT, x->ndim, st);
    return KN_OK;
}

static kn_status ln_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0], *b = KN_IN(c, 2);
    ln_geom g;
    float eps;
    KN_TRY(ln_geom_of(c, &g));
    KN_TRY(kn_attr_float(c->node, "epsilon", 1e-5f, &eps));
    if (g.rows == 0 || g.d == 0) return KN_OK;
    int64_t rs[1] = {g.rows};
    for (int i = 0; i < 2; i++) {
        kn_tensor *st = &c->state[i];
        if (!(st->data && st->ndim == 1 && st->shape[0] == g.rows)) {
            kn_tensor_release(st);
            KN_TRY(kn_tensor_init_on(st, KN_FLOAT, 1, rs, c->device));
        }
    }
    KN_TRY(KN_KCALL(c->k, layernorm_fwd, g.rows, g.d, x->data, c->in[1]->data, b ? b->data : NULL, eps,
                    c->out[0]->data, c->state[0].data, c->state[1].data));
    for (int o = 1; o < 3; o++)
        if (c->n_out > o && c->out[o] && c->out[o]->data)
            KN_TRY(KN_KCALL(c->k, memcpy_d2d, c->out[o]->data, c->state[o - 1].data, sizeof(float) * (size_t)g.rows));
    return KN_OK;
}

static kn_status ln_backward(kn_op_ctx *c)
{
    if (!c->gout[0]) return KN_OK;
    if (c->n_out > 1 && (c->gout[1] || (c->n_out > 2 && c->gout[2])))
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "gradients through the Mean / InvStdDev outputs");
    ln_geom g;
    KN_TRY(ln_geom_of(c, &g));
    if (!c->state[0].data) return kn_node_error(c->node, KN_ERR_INVALID, "backward needs a forward pass first");
    kn_tensor *gb = c->n_in > 2 && c->in[2] ? c->gin[2] : NULL;
    return KN_KCALL(c->k, layernorm_bwd, g.rows, g.d, c->in[0]->data, c->gout[0]->data, c->in[1]->data,
                    c->state[0].data, c->state[1].data, c->gin[0] ? c->gin[0]->data : NULL,
                    c->gin[1] ? c->gin[1]->data : NULL, gb ? gb->data : NULL);
}

const kn_op_def kn_op_layer_norm = {
    .name = "LayerNormalization", .domain = "", .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 3,
    .infer = ln_infer, .forward = ln_forward, .backward = ln_backward,
};
