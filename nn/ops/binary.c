/* Elementwise binary ops with numpy broadcasting (Add, Sub, Mul, Div, Pow,
 * PRelu). One kn_op_def per ONNX op, sharing infer/forward/backward. Any
 * numeric dtype forward (the kernel decides); float32 backward. */
#include "nn/op.h"

/* Operand b's broadcast shape. PRelu before opset 7 has no broadcast attribute: a
 * one-element slope is shared by every element, and a smaller slope is per channel,
 * i.e. aligned with X from dim 1 (Caffe2/PyTorch exports write [C] for [N, C, ...]). */
static kn_status bshape(const kn_op_ctx *c, kn_binop op, const kn_tensor *a, const kn_tensor *b, int *nb,
                        int64_t *bs)
{
    if (op != KN_BIN_PRELU || c->opset >= 7) return kn_op_legacy_bshape(c, a, b, nb, bs);
    int64_t n = 1;
    for (int d = 0; d < b->ndim; d++) n = b->shape[d] == KN_DIM_UNKNOWN || n == KN_DIM_UNKNOWN ? KN_DIM_UNKNOWN : n * b->shape[d];
    *nb = b->ndim;
    for (int d = 0; d < b->ndim; d++) bs[d] = b->shape[d];
    if (n == 1) {
        *nb = 0;
    } else if (b->ndim < a->ndim) {
        *nb = a->ndim;
        for (int d = 0; d < a->ndim; d++) bs[d] = d >= 1 && d <= b->ndim ? b->shape[d - 1] : 1;
    }
    return KN_OK;
}

typedef struct binary_spec {
    kn_binop op;
    bool unidirectional; /* PRelu: slope broadcasts to X, output has X's shape */
} binary_spec;

static kn_status binary_infer_spec(kn_op_ctx *c, const binary_spec *s)
{
    const kn_tensor *a = c->in[0], *b = c->in[1];
    if (a->dtype != b->dtype && !(s->op == KN_BIN_POW))
        return kn_node_error(c->node, KN_ERR_SHAPE, "operands are %s and %s; they must have one dtype",
                             kn_dtype_name(a->dtype), kn_dtype_name(b->dtype));
    int nd;
    int64_t shape[KN_MAX_DIMS];
    int nbl;
    int64_t bl[KN_MAX_DIMS];
    KN_TRY(bshape(c, s->op, a, b, &nbl, bl));
    KN_TRY(kn_op_broadcast(c, a->ndim, a->shape, nbl, bl, &nd, shape));
    if (s->unidirectional && !kn_shape_equal(nd, shape, a->ndim, a->shape)) {
        char x[160], y[160];
        return kn_node_error(c->node, KN_ERR_SHAPE, "slope %s must broadcast to X %s",
                             kn_shape_str(x, sizeof x, b->ndim, b->shape), kn_shape_str(y, sizeof y, a->ndim, a->shape));
    }
    kn_op_set_out(c, 0, a->dtype, nd, shape);
    return KN_OK;
}

static kn_status binary_forward_spec(kn_op_ctx *c, const binary_spec *s)
{
    const kn_tensor *a = c->in[0], *b = c->in[1];
    kn_bcast bc;
    int nbl;
    int64_t bl[KN_MAX_DIMS];
    KN_TRY(bshape(c, s->op, a, b, &nbl, bl));
    KN_TRY(kn_bcast_init(&bc, a->ndim, a->shape, nbl, bl));
    if (a->dtype != b->dtype) { /* Pow with a different exponent type: convert it to the base's */
        size_t need = (size_t)kn_tensor_numel(b) * kn_dtype_size(a->dtype);
        if (c->ws_bytes < need) return kn_node_error(c->node, KN_ERR_INTERNAL, "workspace too small");
        KN_TRY(KN_KCALL(c->k, cast, b->dtype, a->dtype, kn_tensor_numel(b), b->data, c->ws));
        return KN_KCALL(c->k, binary, s->op, a->dtype, &bc, a->data, c->ws, c->out[0]->data);
    }
    return KN_KCALL(c->k, binary, s->op, a->dtype, &bc, a->data, b->data, c->out[0]->data);
}

static size_t binary_ws(kn_op_ctx *c)
{
    const kn_tensor *a = c->in[0], *b = c->in[1];
    return a->dtype != b->dtype ? (size_t)kn_tensor_numel(b) * kn_dtype_size(a->dtype) : 0;
}

static kn_status binary_backward_spec(kn_op_ctx *c, const binary_spec *s)
{
    const kn_tensor *a = c->in[0], *b = c->in[1];
    if (!c->gout[0] || (!c->gin[0] && !c->gin[1])) return KN_OK;
    if (a->dtype != KN_FLOAT || b->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "gradients need float operands");
    kn_bcast bc;
    int nbl;
    int64_t bl[KN_MAX_DIMS];
    KN_TRY(bshape(c, s->op, a, b, &nbl, bl));
    KN_TRY(kn_bcast_init(&bc, a->ndim, a->shape, nbl, bl));
    return KN_KCALL(c->k, binary_bwd, s->op, &bc, a->data, b->data, c->gout[0]->data,
                    c->gin[0] ? c->gin[0]->data : NULL, c->gin[1] ? c->gin[1]->data : NULL);
}

#define BINARY_OP(sym, onnx_name, opcode, unidir)                                                \
    static const binary_spec spec_##sym = {opcode, unidir};                                     \
    static kn_status inf_##sym(kn_op_ctx *c) { return binary_infer_spec(c, &spec_##sym); }      \
    static kn_status fwd_##sym(kn_op_ctx *c) { return binary_forward_spec(c, &spec_##sym); }    \
    static kn_status bwd_##sym(kn_op_ctx *c) { return binary_backward_spec(c, &spec_##sym); }   \
    const kn_op_def kn_op_##sym = {.name = onnx_name, .domain = "", .min_inputs = 2,            \
                                   .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,          \
                                   .infer = inf_##sym, .forward = fwd_##sym,                     \
                                   .backward = bwd_##sym, .workspace = binary_ws};

BINARY_OP(add, "Add", KN_BIN_ADD, false)
BINARY_OP(sub, "Sub", KN_BIN_SUB, false)
BINARY_OP(mul, "Mul", KN_BIN_MUL, false)
BINARY_OP(div, "Div", KN_BIN_DIV, false)
BINARY_OP(pow, "Pow", KN_BIN_POW, false)
BINARY_OP(prelu, "PRelu", KN_BIN_PRELU, true)
