/* ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1,
 * ReduceL2, ReduceLogSum, ReduceLogSumExp, ReduceSumSquare (ONNX).
 *
 * Axes come from the `axes` attribute, or from the optional second input
 * (ReduceSum from opset 13, the others from opset 18; the input is accepted
 * at any opset, both at once is an error). No axes reduces everything, or,
 * with noop_with_empty_axes, reduces nothing: the elementwise part of the op
 * still applies (ReduceSumSquare squares, as the ONNX reference does).
 *
 * Each run of adjacent reduced axes is one [outer, dim, inner] kernel pass.
 * Several runs reduce repeatedly through two scratch buffers, with each op
 * split into passes that compose (sum of squares, then sums; L2 of L2s;
 * log-sum-exp of log-sum-exps; sums, then a final log for ReduceLogSum).
 * Backward in one pass over x for every op; ReduceProd's says it is not
 * implemented (zeros make y / x useless). Float32 only. */
#include "nn/op.h"

typedef struct red_plan {
    int ndim;
    int64_t shape[KN_MAX_DIMS];
    bool reduced[KN_MAX_DIMS];
    int64_t keep[KN_MAX_DIMS]; /* output shape with keepdims */
    int out_ndim;
    int64_t out[KN_MAX_DIMS];
} red_plan;

static kn_status read_axes(const kn_op_ctx *c, int64_t *axes, int *count)
{
    const kn_tensor *t = KN_IN(c, 1);
    int n_attr;
    KN_TRY(kn_attr_ints(c->node, "axes", axes, KN_MAX_DIMS, &n_attr));
    if (!t) { *count = n_attr < 0 ? 0 : n_attr; return KN_OK; }
    if (n_attr >= 0) return kn_node_error(c->node, KN_ERR_INVALID, "axes given both as attribute and as input");
    if (t->dtype != KN_INT64 && t->dtype != KN_INT32)
        return kn_node_error(c->node, KN_ERR_SHAPE, "axes input must be int64, got %s", kn_dtype_name(t->dtype));
    if (t->ndim != 1) return kn_node_error(c->node, KN_ERR_SHAPE, "axes input must be 1-D, got rank %d", t->ndim);
    if (t->shape[0] > KN_MAX_DIMS)
        return kn_node_error(c->node, KN_ERR_INVALID, "%lld axes for at most %d dims", (long long)t->shape[0], KN_MAX_DIMS);
    *count = (int)t->shape[0];
    if (*count == 0) return KN_OK;
    if (!t->data) return kn_node_error(c->node, KN_ERR_INVALID, "the axes input has no data");
    if (t->device == KN_CPU) {
        for (int i = 0; i < *count; i++) axes[i] = kn_tensor_get_i64(t, i);
    } else { /* a few bytes from the device */
        int64_t buf[KN_MAX_DIMS];
        int32_t b32[KN_MAX_DIMS];
        const kn_kernels *k = kn_kernels_get(t->device);
        if (!k) return kn_node_error(c->node, KN_ERR_DEVICE, "no kernels for the axes input's device");
        KN_TRY(k->memcpy_d2h(t->dtype == KN_INT64 ? (void *)buf : (void *)b32, t->data, kn_tensor_bytes(t)));
        for (int i = 0; i < *count; i++) axes[i] = t->dtype == KN_INT64 ? buf[i] : b32[i];
    }
    return KN_OK;
}

static kn_status make_plan(const kn_op_ctx *c, red_plan *p)
{
    const kn_tensor *x = c->in[0];
    int64_t keepdims, noop, axes[KN_MAX_DIMS];
    int naxes = 0;
    KN_TRY(kn_attr_int(c->node, "keepdims", 1, &keepdims));
    KN_TRY(kn_attr_int(c->node, "noop_with_empty_axes", 0, &noop));
    KN_TRY(read_axes(c, axes, &naxes));
    if (x->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "input is %s; only float is supported", kn_dtype_name(x->dtype));
    p->ndim = x->ndim;
    for (int d = 0; d < x->ndim; d++) {
        p->shape[d] = x->shape[d];
        p->reduced[d] = naxes == 0 && !noop;
    }
    for (int i = 0; i < naxes; i++) {
        int ax;
        KN_TRY(kn_op_axis(c, axes[i], x->ndim, &ax));
        if (x->ndim == 0) continue; /* a scalar has nothing to reduce */
        if (p->reduced[ax]) return kn_node_error(c->node, KN_ERR_INVALID, "axis %lld is listed twice", (long long)axes[i]);
        p->reduced[ax] = true;
    }
    p->out_ndim = 0;
    for (int d = 0; d < x->ndim; d++) {
        p->keep[d] = p->reduced[d] ? 1 : x->shape[d];
        if (!p->reduced[d] || keepdims) p->out[p->out_ndim++] = p->keep[d];
    }
    return KN_OK;
}

/* The kernel op for pass k of npass. */
static kn_redop pass_op(kn_redop op, int k, int npass)
{
    const bool last = k == npass - 1;
    switch (op) {
    case KN_RED_LOG_SUM: return last ? KN_RED_LOG_SUM : KN_RED_SUM;
    case KN_RED_SUM_SQUARE: return k == 0 ? KN_RED_SUM_SQUARE : KN_RED_SUM;
    case KN_RED_L1: return k == 0 ? KN_RED_L1 : KN_RED_SUM;
    default: return op;
    }
}

typedef struct red_pass {
    int64_t outer, dim, inner;
} red_pass;

/* Split the plan into passes, last run of axes first. Returns the pass count. */
static int plan_passes(const red_plan *p, red_pass *passes)
{
    int64_t shape[KN_MAX_DIMS];
    int np = 0;
    for (int d = 0; d < p->ndim; d++) shape[d] = p->shape[d];
    for (int b = p->ndim; b > 0;) {
        if (!p->reduced[b - 1]) { b--; continue; }
        int a = b - 1;
        while (a > 0 && p->reduced[a - 1]) a--;
        red_pass *ps = &passes[np++];
        ps->outer = ps->dim = ps->inner = 1;
        for (int d = 0; d < p->ndim; d++) {
            int64_t *slot = d < a ? &ps->outer : (d < b ? &ps->dim : &ps->inner);
            *slot *= shape[d];
        }
        for (int d = a; d < b; d++) shape[d] = 1;
        b = a;
    }
    if (np == 0) { /* nothing reduced: the elementwise part alone, as a reduction over 1 */
        int64_t n = 1;
        for (int d = 0; d < p->ndim; d++) n *= p->shape[d];
        passes[np++] = (red_pass){n, 1, 1};
    }
    return np;
}

static kn_status red_infer(kn_op_ctx *c)
{
    red_plan p;
    KN_TRY(make_plan(c, &p));
    kn_op_set_out(c, 0, KN_FLOAT, p.out_ndim, p.out);
    return KN_OK;
}

static size_t red_workspace(kn_op_ctx *c)
{
    red_plan p;
    red_pass ps[KN_MAX_DIMS];
    if (make_plan(c, &p) != KN_OK) return 0;
    int np = plan_passes(&p, ps);
    size_t s0 = np > 1 ? (size_t)(ps[0].outer * ps[0].inner) : 0;
    size_t s1 = np > 2 ? (size_t)(ps[1].outer * ps[1].inner) : 0;
    return sizeof(float) * (s0 + s1);
}

static kn_status red_forward(kn_op_ctx *c, kn_redop op)
{
    red_plan p;
    red_pass ps[KN_MAX_DIMS];
    KN_TRY(make_plan(c, &p));
    const int np = plan_passes(&p, ps);
    const size_t s0 = np > 1 ? (size_t)(ps[0].outer * ps[0].inner) : 0;
    if (np > 1 && (!c->ws || c->ws_bytes < sizeof(float) * s0))
        return kn_node_error(c->node, KN_ERR_INTERNAL, "workspace missing for a %d-pass reduction", np);
    float *buf[2] = {c->ws, (float *)c->ws + s0};
    const float *src = c->in[0]->data;
    for (int k = 0; k < np; k++) {
        float *dst = k == np - 1 ? c->out[0]->data : buf[k & 1];
        KN_TRY(KN_KCALL(c->k, reduce, pass_op(op, k, np), ps[k].outer, ps[k].dim, ps[k].inner, src, dst));
        src = dst;
    }
    return KN_OK;
}

static kn_status red_backward(kn_op_ctx *c, kn_redop op)
{
    if (!c->gout[0] || !c->gin[0]) return KN_OK;
    if (op == KN_RED_PROD)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "the gradient of ReduceProd is not implemented");
    red_plan p;
    KN_TRY(make_plan(c, &p));
    kn_bcast bc;
    KN_TRY(kn_bcast_init(&bc, p.ndim, p.shape, p.ndim, p.keep));
    const int64_t nx = kn_tensor_numel(c->in[0]), ny = kn_tensor_numel(c->out[0]);
    return KN_KCALL(c->k, reduce_bwd, op, &bc, ny ? nx / ny : 0, c->in[0]->data, c->out[0]->data,
                    c->gout[0]->data, c->gin[0]->data);
}

#define REDUCE_OP(sym, onnx_name, opcode)                                                      \
    static kn_status fwd_##sym(kn_op_ctx *c) { return red_forward(c, opcode); }               \
    static kn_status bwd_##sym(kn_op_ctx *c) { return red_backward(c, opcode); }              \
    const kn_op_def kn_op_##sym = {.name = onnx_name, .domain = "", .infer_data = 1u << 1,    \
                                   .min_inputs = 1, .max_inputs = 2, .min_outputs = 1,        \
                                   .max_outputs = 1, .infer = red_infer, .forward = fwd_##sym, \
                                   .backward = bwd_##sym,                                     \
                                   .workspace = red_workspace};

REDUCE_OP(reduce_sum, "ReduceSum", KN_RED_SUM)
REDUCE_OP(reduce_mean, "ReduceMean", KN_RED_MEAN)
REDUCE_OP(reduce_max, "ReduceMax", KN_RED_MAX)
REDUCE_OP(reduce_min, "ReduceMin", KN_RED_MIN)
REDUCE_OP(reduce_prod, "ReduceProd", KN_RED_PROD)
REDUCE_OP(reduce_l1, "ReduceL1", KN_RED_L1)
REDUCE_OP(reduce_l2, "ReduceL2", KN_RED_L2)
REDUCE_OP(reduce_log_sum, "ReduceLogSum", KN_RED_LOG_SUM)
REDUCE_OP(reduce_log_sum_exp, "ReduceLogSumExp", KN_RED_LOG_SUM_EXP)
REDUCE_OP(reduce_sum_square, "ReduceSumSquare", KN_RED_SUM_SQUARE)
