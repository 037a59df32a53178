/* Variadic elementwise ops with numpy broadcasting over 1..N inputs: Sum,
 * Mean, Max, Min (ONNX). The output is folded input by input with the binary
 * kernel, walking each input with its broadcast strides over the output
 * shape. Float16 is computed in float (inputs widened into the workspace, the
 * result rounded once). Float32 backward: Sum and Mean for any N; Max and Min
 * for one or two inputs (ties send the gradient to the first). */
#include "nn/ops/host_scalar.h"

typedef enum { VAR_SUM, VAR_MEAN, VAR_MAX, VAR_MIN } var_kind;

static kn_binop var_binop(var_kind k) { return k == VAR_MAX ? KN_BIN_MAX : k == VAR_MIN ? KN_BIN_MIN : KN_BIN_ADD; }

static kn_status var_infer(kn_op_ctx *c, var_kind kind)
{
    KN_TRY(kn_require_inputs(c, 1));
    const kn_tensor *x0 = c->in[0];
    kn_dtype dt = x0->dtype;
    if (dt == KN_BOOL || dt == KN_STRING || dt == KN_UNDEFINED ||
        (kind == VAR_MEAN && dt != KN_FLOAT && dt != KN_DOUBLE && dt != KN_FLOAT16))
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "%s on %s is not supported", c->node->op_type,
                             kn_dtype_name(dt));
    int nd = x0->ndim;
    int64_t shape[KN_MAX_DIMS];
    for (int d = 0; d < nd; d++) shape[d] = x0->shape[d];
    for (int i = 1; i < c->n_in; i++) {
        const kn_tensor *xi = c->in[i];
        if (!xi) return kn_node_error(c->node, KN_ERR_INVALID, "input %d is missing", i);
        if (xi->dtype != dt)
            return kn_node_error(c->node, KN_ERR_SHAPE, "input %d is %s, input 0 is %s; all must have one dtype", i,
                                 kn_dtype_name(xi->dtype), kn_dtype_name(dt));
        int64_t next[KN_MAX_DIMS];
        KN_TRY(kn_op_broadcast(c, nd, shape, xi->ndim, xi->shape, &nd, next));
        for (int d = 0; d < nd; d++) shape[d] = next[d];
    }
    kn_op_set_out(c, 0, dt, nd, shape);
    return KN_OK;
}

/* Broadcast walk of the output: a over (na, sa), b over (nb, sb). */
static void out_bcast(const kn_tensor *o, kn_bcast *bc, int na, const int64_t *sa, int nb, const int64_t *sb)
{
    bc->ndim = o->ndim;
    for (int d = 0; d < o->ndim; d++) bc->shape[d] = o->shape[d];
    kn_bcast_strides(o->ndim, na, sa, bc->astride);
    kn_bcast_strides(o->ndim, nb, sb, bc->bstride);
}

static size_t align64(size_t b) { return (b + 63) / 64 * 64; }

/* Layout: the Mean scalar (64 bytes) | float16 only: each input widened to float, then
 * the float result. */
static size_t var_ws(kn_op_ctx *c)
{
    size_t b = 64;
    if (c->in[0]->dtype != KN_FLOAT16) return b;
    for (int i = 0; i < c->n_in; i++) b += align64(sizeof(float) * (size_t)kn_tensor_numel(c->in[i]));
    return b + align64(sizeof(float) * (size_t)kn_tensor_numel(c->out[0]));
}

/* The scalar 1/N in the workspace, in the data type. */
static kn_status mean_scale(kn_op_ctx *c, kn_dtype dt)
{
    uint64_t bits;
    if (c->ws_bytes < kn_dtype_size(dt)) return kn_node_error(c->node, KN_ERR_INTERNAL, "workspace too small");
    KN_TRY(kn_value_bits(dt, 1.0 / c->n_in, &bits));
    return KN_KCALL(c->k, fill, kn_dtype_size(dt), 1, bits, c->ws);
}

/* Fold the inputs xs (two or more; shapes from c->in) into yd of y's shape, in dtype dt. */
static kn_status var_fold(kn_op_ctx *c, var_kind kind, kn_dtype dt, void *const *xs, void *yd)
{
    const kn_tensor *y = c->out[0];
    const kn_binop op = var_binop(kind);
    kn_bcast bc;
    out_bcast(y, &bc, c->in[0]->ndim, c->in[0]->shape, c->in[1]->ndim, c->in[1]->shape);
    KN_TRY(KN_KCALL(c->k, binary, op, dt, &bc, xs[0], xs[1], yd));
    for (int i = 2; i < c->n_in; i++) {
        out_bcast(y, &bc, y->ndim, y->shape, c->in[i]->ndim, c->in[i]->shape);
        KN_TRY(KN_KCALL(c->k, binary, op, dt, &bc, yd, xs[i], yd));
    }
    if (kind == VAR_MEAN) {
        KN_TRY(mean_scale(c, dt));
        out_bcast(y, &bc, y->ndim, y->shape, 0, NULL);
        KN_TRY(KN_KCALL(c->k, binary, KN_BIN_MUL, dt, &bc, yd, c->ws, yd));
    }
    return KN_OK;
}

static kn_status var_forward(kn_op_ctx *c, var_kind kind)
{
    kn_tensor *y = c->out[0];
    const kn_dtype dt = y->dtype;
    void *xs[64];
    if (kn_tensor_numel(y) == 0) return KN_OK;
    if (c->n_in > 64) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "%d inputs (at most 64 are supported)", c->n_in);
    if (c->n_in == 1) return KN_KCALL(c->k, memcpy_d2d, y->data, c->in[0]->data, kn_tensor_bytes(y));
    if (dt != KN_FLOAT16) {
        for (int i = 0; i < c->n_in; i++) xs[i] = c->in[i]->data;
        return var_fold(c, kind, dt, xs, y->data);
    }
    if (c->ws_bytes < var_ws(c)) return kn_node_error(c->node, KN_ERR_INTERNAL, "workspace too small");
    char *p = (char *)c->ws + 64;
    for (int i = 0; i < c->n_in; i++) {
        const int64_t n = kn_tensor_numel(c->in[i]);
        KN_TRY(KN_KCALL(c->k, cast, KN_FLOAT16, KN_FLOAT, n, c->in[i]->data, p));
        xs[i] = p;
        p += align64(sizeof(float) * (size_t)n);
    }
    KN_TRY(var_fold(c, kind, KN_FLOAT, xs, p));
    return KN_KCALL(c->k, cast, KN_FLOAT, KN_FLOAT16, kn_tensor_numel(y), p, y->data);
}

static kn_status var_backward(kn_op_ctx *c, var_kind kind)
{
    const kn_tensor *gy = c->gout[0];
    if (!gy) return KN_OK;
    if (gy->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "%s gradient on %s: only float is supported",
                             c->node->op_type, kn_dtype_name(gy->dtype));
    kn_bcast bc;
    if ((kind == VAR_MAX || kind == VAR_MIN) && c->n_in == 2) {
        if (!c->gin[0] && !c->gin[1]) return KN_OK;
        out_bcast(gy, &bc, c->in[0]->ndim, c->in[0]->shape, c->in[1]->ndim, c->in[1]->shape);
        return KN_KCALL(c->k, binary_bwd, var_binop(kind), &bc, c->in[0]->data, c->in[1]->data, gy->data,
                        c->gin[0] ? c->gin[0]->data : NULL, c->gin[1] ? c->gin[1]->data : NULL);
    }
    if ((kind == VAR_MAX || kind == VAR_MIN) && c->n_in > 2)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "gradient of %s over %d inputs (at most 2 are supported)",
                             c->node->op_type, c->n_in);
    if (kind == VAR_MEAN) KN_TRY(mean_scale(c, KN_FLOAT));
    for (int i = 0; i < c->n_in; i++) {
        const kn_tensor *xi = c->in[i];
        if (!c->gin[i]) continue;
        if (kind == VAR_MEAN) { /* gx += (1/N) * gy: MUL backward with the scalar as operand a */
            out_bcast(gy, &bc, 0, NULL, xi->ndim, xi->shape);
            KN_TRY(KN_KCALL(c->k, binary_bwd, KN_BIN_MUL, &bc, c->ws, xi->data, gy->data, NULL, c->gin[i]->data));
        } else { /* gx += gy reduced over the broadcast dims */
            out_bcast(gy, &bc, xi->ndim, xi->shape, 0, NULL);
            KN_TRY(KN_KCALL(c->k, binary_bwd, KN_BIN_ADD, &bc, xi->data, xi->data, gy->data, c->gin[i]->data, NULL));
        }
    }
    return KN_OK;
}

#define VARIADIC_OP(sym, onnx_name, kind)                                                        \
    static kn_status inf_##sym(kn_op_ctx *c) { return var_infer(c, kind); }                      \
    static kn_status fwd_##sym(kn_op_ctx *c) { return var_forward(c, kind); }                    \
    static kn_status bwd_##sym(kn_op_ctx *c) { return var_backward(c, kind); }                   \
    const kn_op_def kn_op_##sym = {.name = onnx_name, .domain = "", .min_inputs = 1,             \
                                   .max_inputs = -1,      .min_outputs = 1, .max_outputs = 1,     \
                                   .infer = inf_##sym, .forward = fwd_##sym,                      \
                                   .backward = bwd_##sym, .workspace = var_ws};

VARIADIC_OP(sum, "Sum", VAR_SUM)
VARIADIC_OP(mean, "Mean", VAR_MEAN)
VARIADIC_OP(max, "Max", VAR_MAX)
VARIADIC_OP(min, "Min", VAR_MIN)
