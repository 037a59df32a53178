/* Comparison, logical and modulo ops (ONNX), all through the binary kernel
 * with numpy broadcasting: Equal, Less, Greater, LessOrEqual, GreaterOrEqual
 * (bool output), And, Or, Xor (bool in and out), Not (bool), and Mod (the
 * `fmod` attribute: 0 = integer modulo with the divisor's sign, 1 = C fmod;
 * float inputs require fmod = 1). None is differentiable. */
#include "nn/ops/host_scalar.h"

typedef enum { CMP_ANY, CMP_NUMERIC, CMP_BOOL } cmp_types;

typedef struct cmp_spec {
    kn_binop op;
    cmp_types types; /* ANY: numeric or bool; NUMERIC: no bool; BOOL: bool only */
    bool bool_out;
    int min_opset;
} cmp_spec;

static kn_status cmp_check_dtype(const kn_op_ctx *c, const cmp_spec *s, kn_dtype dt)
{
    bool ok;
    switch (s->types) {
    case CMP_BOOL: ok = dt == KN_BOOL; break;
    case CMP_NUMERIC: ok = kn_dtype_is_int(dt) || dt == KN_FLOAT || dt == KN_DOUBLE; break;
    default: ok = kn_dtype_is_int(dt) || dt == KN_FLOAT || dt == KN_DOUBLE || dt == KN_BOOL; break;
    }
    if (!ok)
        return kn_node_error(c->node, s->types == CMP_BOOL ? KN_ERR_SHAPE : KN_ERR_UNSUPPORTED,
                             "%s on %s is not supported%s", c->node->op_type, kn_dtype_name(dt),
                             s->types == CMP_BOOL ? " (it takes bool)" : "");
    return KN_OK;
}

static kn_status mod_opcode(const kn_op_ctx *c, kn_dtype dt, kn_binop *op)
{
    int64_t fmod;
    KN_TRY(kn_attr_int(c->node, "fmod", 0, &fmod));
    if (fmod != 0 && fmod != 1) return kn_node_error(c->node, KN_ERR_INVALID, "fmod must be 0 or 1, got %lld", (long long)fmod);
    if (!fmod && kn_dtype_is_float(dt))
        return kn_node_error(c->node, KN_ERR_INVALID, "Mod on %s needs fmod=1", kn_dtype_name(dt));
    *op = fmod ? KN_BIN_FMOD : KN_BIN_MOD;
    return KN_OK;
}

static kn_status cmp_infer(kn_op_ctx *c, const cmp_spec *s)
{
    KN_TRY(kn_require_inputs(c, 2));
    const kn_tensor *a = c->in[0], *b = c->in[1];
    if (c->opset < s->min_opset)
        return kn_node_error(c->node, KN_ERR_INVALID, "%s needs opset %d (model has %d)", c->node->op_type, s->min_opset,
                             c->opset);
    if (a->dtype != b->dtype)
        return kn_node_error(c->node, KN_ERR_SHAPE, "operands are %s and %s; they must have one dtype",
                             kn_dtype_name(a->dtype), kn_dtype_name(b->dtype));
    KN_TRY(cmp_check_dtype(c, s, a->dtype));
    if (s->op == KN_BIN_MOD) {
        kn_binop op;
        KN_TRY(mod_opcode(c, a->dtype, &op));
    }
    int nd;
    int64_t shape[KN_MAX_DIMS];
    int nbl;
    int64_t bl[KN_MAX_DIMS];
    KN_TRY(kn_op_legacy_bshape(c, a, b, &nbl, bl));
    KN_TRY(kn_op_broadcast(c, a->ndim, a->shape, nbl, bl, &nd, shape));
    kn_op_set_out(c, 0, s->bool_out ? KN_BOOL : a->dtype, nd, shape);
    return KN_OK;
}

static kn_status cmp_forward(kn_op_ctx *c, const cmp_spec *s)
{
    const kn_tensor *a = c->in[0], *b = c->in[1];
    kn_binop op = s->op;
    if (op == KN_BIN_MOD) KN_TRY(mod_opcode(c, a->dtype, &op));
    kn_bcast bc;
    int nbl;
    int64_t bl[KN_MAX_DIMS];
    KN_TRY(kn_op_legacy_bshape(c, a, b, &nbl, bl));
    KN_TRY(kn_bcast_init(&bc, a->ndim, a->shape, nbl, bl));
    return KN_KCALL(c->k, binary, op, a->dtype, &bc, a->data, b->data, c->out[0]->data);
}

#define CMP_OP(sym, onnx_name, opcode, types, bool_out, min_opset)                              \
    static const cmp_spec spec_##sym = {opcode, types, bool_out, min_opset};                   \
    static kn_status inf_##sym(kn_op_ctx *c) { return cmp_infer(c, &spec_##sym); }             \
    static kn_status fwd_##sym(kn_op_ctx *c) { return cmp_forward(c, &spec_##sym); }           \
    const kn_op_def kn_op_##sym = {.name = onnx_name, .domain = "", .min_inputs = 2,           \
                                   .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,         \
                                   .infer = inf_##sym, .forward = fwd_##sym};

CMP_OP(equal, "Equal", KN_BIN_EQUAL, CMP_ANY, true, 1)
CMP_OP(less, "Less", KN_BIN_LESS, CMP_NUMERIC, true, 1)
CMP_OP(greater, "Greater", KN_BIN_GREATER, CMP_NUMERIC, true, 1)
CMP_OP(less_or_equal, "LessOrEqual", KN_BIN_LESS_EQUAL, CMP_NUMERIC, true, 12)
CMP_OP(greater_or_equal, "GreaterOrEqual", KN_BIN_GREATER_EQUAL, CMP_NUMERIC, true, 12)
CMP_OP(and, "And", KN_BIN_AND, CMP_BOOL, true, 1)
CMP_OP(or, "Or", KN_BIN_OR, CMP_BOOL, true, 1)
CMP_OP(xor, "Xor", KN_BIN_XOR, CMP_BOOL, true, 1)
CMP_OP(mod, "Mod", KN_BIN_MOD, CMP_NUMERIC, false, 10)

/* Not: y = x XOR true, the constant as a broadcast scalar in the workspace. */
static kn_status not_infer(kn_op_ctx *c)
{
    KN_TRY(kn_require_inputs(c, 1));
    const kn_tensor *x = c->in[0];
    if (x->dtype != KN_BOOL)
        return kn_node_error(c->node, KN_ERR_SHAPE, "Not takes bool, got %s", kn_dtype_name(x->dtype));
    kn_op_set_out(c, 0, KN_BOOL, x->ndim, x->shape);
    return KN_OK;
}

static size_t not_ws(kn_op_ctx *c)
{
    (void)c;
    return 1;
}

static kn_status not_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    int64_t n = kn_tensor_numel(x);
    if (n == 0) return KN_OK;
    if (c->ws_bytes < 1) return kn_node_error(c->node, KN_ERR_INTERNAL, "workspace too small");
    KN_TRY(KN_KCALL(c->k, fill, 1, 1, 1, c->ws));
    kn_bcast bc = {.ndim = 1, .shape = {n}, .astride = {1}, .bstride = {0}};
    return KN_KCALL(c->k, binary, KN_BIN_XOR, KN_BOOL, &bc, x->data, c->ws, c->out[0]->data);
}

const kn_op_def kn_op_not = {
    .name = "Not", .domain = "", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = not_infer, .forward = not_forward, .workspace = not_ws,
};
