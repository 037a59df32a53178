/* kn_graph -> ModelProto. Works on an inferred clone of the graph so every
 * graph input and output has a type; writes only the cone of g->outputs,
 * drops Dropout, writes BatchNormalization in inference form and expands
 * kiln-domain fused ops into standard ONNX nodes. */
#include "onnx/internal.h"
#include "nn/op.h"
#include "kiln.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KN_EXPORT_MIN_OPSET 7
#define KN_EXPORT_MAX_OPSET 19

typedef struct ptr_list {
    void **items;
    size_t n, cap;
} ptr_list;

typedef struct exporter {
    kn_graph *g; /* inferred clone */
    kn_arena a;
    int opset;
    const char *batch;
    bool *needed;    /* per value: read by a written node or a graph output */
    bool *live;      /* per node */
    int *alias;      /* per value: the value that replaces it (Dropout removal), or itself */
    ptr_list nodes, inits, vinfo, host;
    int uniq;
} exporter;

static kn_status push(exporter *ex, ptr_list *l, void *p)
{
    if (!p) return kn_error(KN_ERR_NOMEM, "out of memory exporting");
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        void **ni = realloc(l->items, sizeof(void *) * cap);
        if (!ni) return kn_error(KN_ERR_NOMEM, "out of memory exporting");
        l->items = ni;
        l->cap = cap;
    }
    l->items[l->n++] = p;
    (void)ex;
    return KN_OK;
}

static int ir_for_opset(int opset)
{
    static const int ir[] = {/*7*/ 3, 3, 4, 5, 6, 7, 7, 7, 8, 8, 8, 8, /*19*/ 9};
    return ir[opset - 7];
}

/* Ops whose inputs or attributes changed meaning at these opsets: a graph built for one
 * side of a change cannot simply be labelled with the other. */
static const struct { const char *op; int at[3]; } changes[] = {
    {"Squeeze", {13}}, {"Unsqueeze", {13}}, {"ReduceSum", {13}}, {"Split", {13, 18}},
    {"ReduceMean", {18}}, {"ReduceMax", {18}}, {"ReduceMin", {18}}, {"ReduceProd", {18}},
    {"ReduceL1", {18}}, {"ReduceL2", {18}}, {"ReduceLogSum", {18}}, {"ReduceLogSumExp", {18}},
    {"ReduceSumSquare", {18}}, {"Clip", {11}}, {"Pad", {11}}, {"Softmax", {13}}, {"LogSoftmax", {13}},
    {"Hardmax", {13}}, {"Dropout", {12}}, {"Resize", {11, 13}}, {"Upsample", {9, 10}}, {"TopK", {10, 11}},
    {"Slice", {10}}, {"BatchNormalization", {9}},
};
/* First opset of ops newer than 7. */
static const struct { const char *op; int since; } intro[] = {
    {"LayerNormalization", 17}, /* HardSwish: written as HardSigmoid + Mul before 14 */ {"Mish", 18}, {"Trilu", 14}, {"CumSum", 11},
    {"Range", 11}, {"Einsum", 12}, {"Celu", 12}, {"GreaterOrEqual", 12}, {"LessOrEqual", 12},
    {"NegativeLogLikelihoodLoss", 12}, {"SoftmaxCrossEntropyLoss", 12}, {"Round", 11}, {"Det", 11},
    {"Where", 9}, {"Erf", 9}, {"Shrink", 9}, {"Sign", 9}, {"Expand", 8}, {"NonZero", 9}, {"GatherND", 11},
    {"ScatterND", 11}, {"ScatterElements", 11}, {"GatherElements", 11}, {"Bernoulli", 15}, {"CastLike", 15},
    {"GridSample", 16}, {"Col2Im", 18}, {"BitwiseAnd", 18}, {"CenterCropPad", 18}, {"DFT", 17},
};

static kn_status check_op_opset(const exporter *ex, const char *op, const char *node)
{
    for (size_t i = 0; i < sizeof intro / sizeof *intro; i++)
        if (!strcmp(intro[i].op, op) && ex->opset < intro[i].since)
            return kn_error(KN_ERR_UNSUPPORTED, "node '%s': %s needs opset %d or newer; exporting at opset %d", node, op,
                            intro[i].since, ex->opset);
    int lo = ex->opset < ex->g->opset ? ex->opset : ex->g->opset, hi = ex->opset ^ ex->g->opset ^ lo;
    for (size_t i = 0; lo != hi && i < sizeof changes / sizeof *changes; i++) {
        if (strcmp(changes[i].op, op)) continue;
        for (int j = 0; j < 3 && changes[i].at[j]; j++)
            if (changes[i].at[j] > lo && changes[i].at[j] <= hi)
                return kn_error(KN_ERR_UNSUPPORTED,
                                "node '%s': %s changed at opset %d, so a graph built for opset %d cannot be written as opset %d",
                                node, op, changes[i].at[j], ex->g->opset, ex->opset);
    }
    return KN_OK;
}

static int resolve(const exporter *ex, int v)
{
    while (v >= 0 && ex->alias[v] != v) v = ex->alias[v];
    return v;
}

static const char *vname(const exporter *ex, int v)
{
    v = resolve(ex, v);
    return v >= 0 ? ex->g->values[v].name : "";
}

/* A fresh value name that no graph value uses. */
static char *fresh_name(exporter *ex, const char *base)
{
    char buf[512];
    do snprintf(buf, sizeof buf, "%.400s__kiln%d", base, ex->uniq++);
    while (kn_graph_find_value(ex->g, buf) >= 0);
    return kn_arena_strdup(&ex->a, buf);
}

/* ---- messages ---- */

static kn_status tensor_pb(exporter *ex, const kn_tensor *t, const char *name, Onnx__TensorProto **out)
{
    if (t->device != KN_CPU) {
        kn_tensor *h = kn_arena_alloc(&ex->a, sizeof *h);
        if (!h) return kn_error(KN_ERR_NOMEM, "out of memory");
        KN_TRY(kn_tensor_to(h, t, KN_CPU));
        KN_TRY(push(ex, &ex->host, h));
        t = h;
    }
    return kn_onnx_tensor_to_pb(&ex->a, t, name, out);
}

static kn_status attr_pb(exporter *ex, const kn_attr *s, Onnx__AttributeProto **out)
{
    Onnx__AttributeProto *a = kn_arena_alloc(&ex->a, sizeof *a);
    if (!a) return kn_error(KN_ERR_NOMEM, "out of memory");
    onnx__attribute_proto__init(a);
    a->name = kn_arena_strdup(&ex->a, s->name);
    a->has_type = 1;
    a->type = (Onnx__AttributeProto__AttributeType)s->type;
    size_t n = (size_t)(s->n > 0 ? s->n : 0);
    switch (s->type) {
    case KN_ATTR_FLOAT: a->has_f = 1; a->f = s->f; break;
    case KN_ATTR_INT: a->has_i = 1; a->i = s->i; break;
    case KN_ATTR_STRING:
        a->has_s = 1;
        a->s.data = (uint8_t *)(s->s ? s->s : "");
        a->s.len = s->s ? strlen(s->s) : 0;
        break;
    case KN_ATTR_TENSOR: KN_TRY(tensor_pb(ex, &s->t, "", &a->t)); break;
    case KN_ATTR_FLOATS: a->n_floats = n; a->floats = s->floats; break;
    case KN_ATTR_INTS: a->n_ints = n; a->ints = s->ints; break;
    case KN_ATTR_STRINGS:
        a->n_strings = n;
        a->strings = kn_arena_alloc(&ex->a, sizeof(ProtobufCBinaryData) * (n ? n : 1));
        if (!a->strings) return kn_error(KN_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            a->strings[i].data = (uint8_t *)s->strings[i];
            a->strings[i].len = strlen(s->strings[i]);
        }
        break;
    default: return kn_error(KN_ERR_UNSUPPORTED, "attribute '%s' of type %d cannot be written", s->name, (int)s->type);
    }
    *out = a;
    return KN_OK;
}

/* A node with the given op, input/output names and the source node's attributes except `skip`. */
static kn_status emit(exporter *ex, const char *op, const char *name, int n_in, const char *const *in, int n_out,
                      const char *const *out, const kn_node *attrs_from, const char *const *skip, Onnx__NodeProto **res)
{
    KN_TRY(check_op_opset(ex, op, name));
    Onnx__NodeProto *np = kn_arena_alloc(&ex->a, sizeof *np);
    if (!np) return kn_error(KN_ERR_NOMEM, "out of memory");
    onnx__node_proto__init(np);
    np->op_type = kn_arena_strdup(&ex->a, op);
    np->name = kn_arena_strdup(&ex->a, name);
    np->domain = kn_arena_strdup(&ex->a, "");
    np->n_input = (size_t)n_in;
    np->input = kn_arena_alloc(&ex->a, sizeof(char *) * (size_t)(n_in + 1));
    np->n_output = (size_t)n_out;
    np->output = kn_arena_alloc(&ex->a, sizeof(char *) * (size_t)(n_out + 1));
    if (!np->op_type || !np->name || !np->domain || !np->input || !np->output)
        return kn_error(KN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n_in; i++) np->input[i] = (char *)in[i];
    for (int i = 0; i < n_out; i++) np->output[i] = (char *)out[i];
    if (attrs_from) {
        np->attribute = kn_arena_alloc(&ex->a, sizeof(void *) * (size_t)(attrs_from->n_attrs + 1));
        if (!np->attribute) return kn_error(KN_ERR_NOMEM, "out of memory");
        for (int i = 0; i < attrs_from->n_attrs; i++) {
            const kn_attr *at = &attrs_from->attrs[i];
            bool drop = false;
            for (int k = 0; skip && skip[k]; k++) drop |= !strcmp(skip[k], at->name);
            if (drop) continue;
            KN_TRY(attr_pb(ex, at, &np->attribute[np->n_attribute]));
            np->n_attribute++;
        }
    }
    if (res) *res = np;
    return push(ex, &ex->nodes, np);
}

static kn_status add_attr(exporter *ex, Onnx__NodeProto *np, const kn_attr *src)
{
    Onnx__AttributeProto **na = kn_arena_alloc(&ex->a, sizeof(void *) * (np->n_attribute + 1));
    if (!na) return kn_error(KN_ERR_NOMEM, "out of memory");
    if (np->n_attribute) memcpy(na, np->attribute, sizeof(void *) * np->n_attribute);
    KN_TRY(attr_pb(ex, src, &na[np->n_attribute]));
    np->attribute = na;
    np->n_attribute++;
    return KN_OK;
}

static kn_status scalar_init(exporter *ex, const char *name, float v)
{
    kn_tensor *t = kn_arena_alloc(&ex->a, sizeof *t);
    if (!t) return kn_error(KN_ERR_NOMEM, "out of memory");
    KN_TRY(kn_tensor_init(t, KN_FLOAT, 0, NULL));
    KN_TRY(push(ex, &ex->host, t)); /* released with the other host copies */
    *(float *)t->data = v;
    Onnx__TensorProto *tp;
    KN_TRY(kn_onnx_tensor_to_pb(&ex->a, t, name, &tp));
    return push(ex, &ex->inits, tp);
}

/* HardSwish(x) = x * HardSigmoid(x; alpha 1/6, beta 0.5): how it is written before
 * opset 14, where HardSwish does not exist (PyTorch exports it the same way). */
static kn_status emit_hardswish(exporter *ex, const char *name, const char *x, const char *y)
{
    const char *hs = fresh_name(ex, y), *in[2] = {x, NULL}, *out[1];
    char nm[600];
    Onnx__NodeProto *np;
    if (!hs) return kn_error(KN_ERR_NOMEM, "out of memory");
    if (ex->opset >= 14) {
        out[0] = y;
        return emit(ex, "HardSwish", name, 1, in, 1, out, NULL, NULL, NULL);
    }
    snprintf(nm, sizeof nm, "%s_hardsigmoid", name);
    out[0] = hs;
    KN_TRY(emit(ex, "HardSigmoid", nm, 1, in, 1, out, NULL, NULL, &np));
    kn_attr a = {.name = "alpha", .type = KN_ATTR_FLOAT, .f = 1.0f / 6.0f};
    kn_attr b = {.name = "beta", .type = KN_ATTR_FLOAT, .f = 0.5f};
    KN_TRY(add_attr(ex, np, &a));
    KN_TRY(add_attr(ex, np, &b));
    in[1] = hs;
    out[0] = y;
    return emit(ex, "Mul", name, 2, in, 1, out, NULL, NULL, NULL);
}

/* The activation of a fused node as its own node reading `x` and writing `y`. */
static kn_status emit_activation(exporter *ex, const kn_node *n, const char *x, const char *y)
{
    kn_act act;
    float alpha, beta;
    const char *act_name;
    KN_TRY(kn_fused_activation(n, &act, &alpha, &beta));
    KN_TRY(kn_attr_string(n, "activation", "", &act_name));
    char nm[600];
    snprintf(nm, sizeof nm, "%s_%s", n->name, act_name);
    const char *in[3] = {x, NULL, NULL}, *out[1] = {y};
    Onnx__NodeProto *np;
    switch (act) {
    case KN_ACT_HARDSWISH: return emit_hardswish(ex, nm, x, y);
    case KN_ACT_RELU: case KN_ACT_SIGMOID: case KN_ACT_TANH:
        return emit(ex, act_name, nm, 1, in, 1, out, NULL, NULL, NULL);
    case KN_ACT_LEAKY_RELU: {
        KN_TRY(emit(ex, "LeakyRelu", nm, 1, in, 1, out, NULL, NULL, &np));
        kn_attr at = {.name = "alpha", .type = KN_ATTR_FLOAT, .f = alpha};
        return add_attr(ex, np, &at);
    }
    case KN_ACT_CLIP:
        if (ex->opset >= 11) {
            in[1] = fresh_name(ex, "clip_min");
            in[2] = fresh_name(ex, "clip_max");
            if (!in[1] || !in[2]) return kn_error(KN_ERR_NOMEM, "out of memory");
            KN_TRY(scalar_init(ex, in[1], alpha));
            KN_TRY(scalar_init(ex, in[2], beta));
            return emit(ex, "Clip", nm, 3, in, 1, out, NULL, NULL, NULL);
        } else {
            KN_TRY(emit(ex, "Clip", nm, 1, in, 1, out, NULL, NULL, &np));
            kn_attr lo = {.name = "min", .type = KN_ATTR_FLOAT, .f = alpha};
            kn_attr hi = {.name = "max", .type = KN_ATTR_FLOAT, .f = beta};
            KN_TRY(add_attr(ex, np, &lo));
            return add_attr(ex, np, &hi);
        }
    default: return kn_node_error(n, KN_ERR_INTERNAL, "fused node has no activation to write");
    }
}

static const char *const fused_skip[] = {"activation", "activation_params", "pool_kernel_shape", "pool_strides", NULL};

/* A FusedConv's pooling epilogue as the standard MaxPool it absorbed. */
static kn_status emit_pool(exporter *ex, const kn_node *n, const char *x, const char *y)
{
    char nm[600];
    snprintf(nm, sizeof nm, "%s_pool", n->name);
    const char *in[1] = {x}, *out[1] = {y};
    Onnx__NodeProto *np;
    KN_TRY(emit(ex, "MaxPool", nm, 1, in, 1, out, NULL, NULL, &np));
    const kn_attr *k = kn_node_attr(n, "pool_kernel_shape"), *s = kn_node_attr(n, "pool_strides");
    kn_attr ks = *k, ss = s ? *s : (kn_attr){0};
    ks.name = "kernel_shape";
    KN_TRY(add_attr(ex, np, &ks));
    if (!s) return KN_OK;
    ss.name = "strides";
    return add_attr(ex, np, &ss);
}

/* A FusedConv's side 1x1 (fuse_side_conv) as the Conv it absorbed: X, Ws, Bs with the
 * node's strides, no padding. */
static kn_status emit_side(exporter *ex, const kn_node *n, const char *const *in, const char *y)
{
    char nm[600];
    snprintf(nm, sizeof nm, "%s_side", n->name);
    const bool bias = n->n_inputs > 5 && n->inputs[5] >= 0;
    const char *sin[3] = {in[0], in[4], bias ? in[5] : NULL};
    Onnx__NodeProto *np;
    KN_TRY(emit(ex, "Conv", nm, bias ? 3 : 2, sin, 1, &y, NULL, NULL, &np));
    int64_t one[2] = {1, 1};
    kn_attr ks = {.name = "kernel_shape", .type = KN_ATTR_INTS, .ints = one, .n = 2};
    KN_TRY(add_attr(ex, np, &ks));
    const kn_attr *st = kn_node_attr(n, "strides");
    return st ? add_attr(ex, np, st) : KN_OK;
}

static kn_status export_node(exporter *ex, const kn_node *n)
{
    const kn_graph *g = ex->g;
    const char *in[64], *out[64];
    if (n->n_inputs > 64 || n->n_outputs > 64) return kn_node_error(n, KN_ERR_UNSUPPORTED, "too many inputs/outputs to write");
    for (int i = 0; i < n->n_inputs; i++) in[i] = vname(ex, n->inputs[i]);
    int n_in = n->n_inputs;
    while (n_in > 0 && n->inputs[n_in - 1] < 0) n_in--; /* omitted trailing optional inputs */
    for (int i = 0; i < n->n_outputs; i++) out[i] = g->values[n->outputs[i]].name;

    if (!strcmp(n->domain, "kiln")) {
        const char *act;
        KN_TRY(kn_attr_string(n, "activation", "", &act));
        bool has_act = *act != 0;
        if (!strcmp(n->op_type, "FusedGemm")) {
            const char *mid = has_act ? fresh_name(ex, out[0]) : out[0];
            if (!mid) return kn_error(KN_ERR_NOMEM, "out of memory");
            KN_TRY(emit(ex, "Gemm", n->name, n_in, in, 1, &mid, n, fused_skip, NULL));
            return has_act ? emit_activation(ex, n, mid, out[0]) : KN_OK;
        }
        if (!strcmp(n->op_type, "FusedConv")) {
            bool has_z = n->n_inputs > 3 && n->inputs[3] >= 0, has_pool = kn_node_attr(n, "pool_kernel_shape") != NULL;
            int conv_in = n_in > 3 ? 3 : n_in;
            while (conv_in > 2 && n->inputs[conv_in - 1] < 0) conv_in--;
            const char *final = has_pool ? fresh_name(ex, out[0]) : out[0]; /* before the pooling */
            if (!final) return kn_error(KN_ERR_NOMEM, "out of memory");
            const char *conv_out = (has_z || has_act) ? fresh_name(ex, out[0]) : final;
            if (!conv_out) return kn_error(KN_ERR_NOMEM, "out of memory");
            KN_TRY(emit(ex, "Conv", n->name, conv_in, in, 1, &conv_out, n, fused_skip, NULL));
            const char *cur = conv_out;
            if (has_z) {
                const char *sum = has_act ? fresh_name(ex, out[0]) : final;
                const char *add_in[2] = {cur, in[3]};
                char nm[600];
                snprintf(nm, sizeof nm, "%s_add", n->name);
                if (!sum) return kn_error(KN_ERR_NOMEM, "out of memory");
                KN_TRY(emit(ex, "Add", nm, 2, add_in, 1, &sum, NULL, NULL, NULL));
                cur = sum;
            }
            if (has_act) KN_TRY(emit_activation(ex, n, cur, final));
            if (n->n_inputs > 4 && n->inputs[4] >= 0 && n->n_outputs > 1) KN_TRY(emit_side(ex, n, in, out[1]));
            return has_pool ? emit_pool(ex, n, final, out[0]) : KN_OK;
        }
        return kn_node_error(n, KN_ERR_UNSUPPORTED, "kiln-domain op has no standard ONNX form to write");
    }
    if (!strcmp(n->op_type, "HardSwish")) return emit_hardswish(ex, n->name, in[0], out[0]);
    if (!strcmp(n->op_type, "Dropout")) { /* only reached when its output is a graph output */
        return emit(ex, "Identity", n->name, 1, in, 1, out, NULL, NULL, NULL);
    }
    if (!strcmp(n->op_type, "BatchNormalization")) {
        for (int i = 1; i < n->n_outputs; i++)
            if (ex->needed[n->outputs[i]])
                return kn_node_error(n, KN_ERR_UNSUPPORTED, "training output '%s' is used, so the node cannot be written in inference form",
                                     out[i]);
        static const char *const bn_skip[] = {"training_mode", NULL};
        return emit(ex, n->op_type, n->name, n_in, in, 1, out, n, bn_skip, NULL);
    }
    int n_out = n->n_outputs;
    while (n_out > 1 && !ex->needed[n->outputs[n_out - 1]]) n_out--; /* unused trailing outputs stay unnamed */
    return emit(ex, n->op_type, n->name, n_in, in, n_out, out, n, NULL, NULL);
}

static kn_status value_info(exporter *ex, int v, bool io, Onnx__ValueInfoProto **out)
{
    const kn_value *val = &ex->g->values[v];
    if (val->dtype == KN_UNDEFINED) {
        if (io) return kn_error(KN_ERR_INVALID, "graph %s '%s' has no known element type", val->kind == KN_VALUE_INPUT ? "input" : "output",
                                val->name);
        *out = NULL;
        return KN_OK;
    }
    kn_arena *a = &ex->a;
    Onnx__ValueInfoProto *vi = kn_arena_alloc(a, sizeof *vi);
    Onnx__TypeProto *tp = kn_arena_alloc(a, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = kn_arena_alloc(a, sizeof *tt);
    if (!vi || !tp || !tt) return kn_error(KN_ERR_NOMEM, "out of memory");
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    vi->name = val->name;
    vi->type = tp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = (int32_t)val->dtype;
    if (val->ndim >= 0) {
        Onnx__TensorShapeProto *sp = kn_arena_alloc(a, sizeof *sp);
        if (!sp) return kn_error(KN_ERR_NOMEM, "out of memory");
        onnx__tensor_shape_proto__init(sp);
        sp->n_dim = (size_t)val->ndim;
        sp->dim = kn_arena_alloc(a, sizeof(void *) * (size_t)(val->ndim + 1));
        if (!sp->dim) return kn_error(KN_ERR_NOMEM, "out of memory");
        for (int d = 0; d < val->ndim; d++) {
            Onnx__TensorShapeProto__Dimension *dim = kn_arena_alloc(a, sizeof *dim);
            if (!dim) return kn_error(KN_ERR_NOMEM, "out of memory");
            onnx__tensor_shape_proto__dimension__init(dim);
            if (val->shape[d] >= 0) {
                dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                dim->dim_value = val->shape[d];
            } else if (val->dim_param[d] || io) {
                char buf[600];
                if (val->dim_param[d]) snprintf(buf, sizeof buf, "%s", val->dim_param[d]);
                else if (d == 0) snprintf(buf, sizeof buf, "%s", ex->batch);
                else snprintf(buf, sizeof buf, "%.500s_dim%d", val->name, d);
                dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                dim->dim_param = kn_arena_strdup(a, buf);
                if (!dim->dim_param) return kn_error(KN_ERR_NOMEM, "out of memory");
            }
            sp->dim[d] = dim;
        }
        tt->shape = sp;
    }
    *out = vi;
    return KN_OK;
}

/* Mark the cone of the graph outputs, rewire around Dropout, then write. */
static kn_status build(exporter *ex, Onnx__ModelProto *m, Onnx__GraphProto *gp)
{
    kn_graph *g = ex->g;
    int nv = g->n_values, nn = g->n_nodes, count;
    ex->needed = calloc((size_t)nv + 1, sizeof(bool));
    ex->live = calloc((size_t)nn + 1, sizeof(bool));
    ex->alias = malloc(sizeof(int) * ((size_t)nv + 1));
    int *order = malloc(sizeof(int) * ((size_t)nn + 1));
    kn_status st = KN_OK;
    if (!ex->needed || !ex->live || !ex->alias || !order) { free(order); return kn_error(KN_ERR_NOMEM, "out of memory"); }
    for (int v = 0; v < nv; v++) ex->alias[v] = v;
    if ((st = kn_graph_topo_order(g, order, &count)) != KN_OK) { free(order); return st; }
    for (int i = 0; i < g->n_outputs; i++) ex->needed[g->outputs[i]] = true;
    for (int k = count - 1; k >= 0; k--) {
        const kn_node *n = &g->nodes[order[k]];
        bool live = false;
        for (int o = 0; o < n->n_outputs; o++) live |= ex->needed[n->outputs[o]];
        if (!live) continue;
        ex->live[order[k]] = true;
        for (int i = 0; i < n->n_inputs; i++)
            if (n->inputs[i] >= 0) ex->needed[n->inputs[i]] = true;
    }
    /* Dropout is the identity at inference: consumers read its input directly. */
    for (int k = 0; k < count; k++) {
        const kn_node *n = &g->nodes[order[k]];
        if (!ex->live[order[k]] || strcmp(n->op_type, "Dropout") || *n->domain) continue;
        if (n->n_outputs > 1 && ex->needed[n->outputs[1]]) {
            st = kn_node_error(n, KN_ERR_UNSUPPORTED, "its mask output is used; Dropout is removed on export");
            break;
        }
        bool graph_out = false; /* then an Identity keeps the output's name */
        for (int i = 0; i < g->n_outputs; i++) graph_out |= g->outputs[i] == n->outputs[0];
        if (!graph_out) {
            ex->alias[n->outputs[0]] = n->inputs[0];
            ex->live[order[k]] = false;
        }
    }
    for (int k = 0; k < count && st == KN_OK; k++)
        if (ex->live[order[k]]) st = export_node(ex, &g->nodes[order[k]]);
    free(order);
    KN_TRY(st);

    /* values the written nodes read, after Dropout rewiring */
    bool *used = calloc((size_t)nv + 1, sizeof(bool));
    if (!used) return kn_error(KN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < nn; i++) {
        const kn_node *n = &g->nodes[i];
        if (!ex->live[i]) continue;
        for (int j = 0; j < n->n_inputs; j++)
            if (n->inputs[j] >= 0) used[resolve(ex, n->inputs[j])] = true;
    }
    for (int i = 0; i < g->n_outputs; i++) used[g->outputs[i]] = true;
    for (int v = 0; v < nv && st == KN_OK; v++) {
        const kn_value *val = &g->values[v];
        if (!used[v] || (val->kind != KN_VALUE_PARAM && val->kind != KN_VALUE_CONST)) continue;
        Onnx__TensorProto *tp;
        if ((st = tensor_pb(ex, &val->data, val->name, &tp)) == KN_OK) st = push(ex, &ex->inits, tp);
    }
    ptr_list ins = {0}, outs = {0};
    for (int i = 0; i < g->n_inputs && st == KN_OK; i++) {
        int v = g->inputs[i];
        if (g->loss >= 0 && !used[v]) continue; /* labels and the like, read only by the loss */
        Onnx__ValueInfoProto *vi;
        if ((st = value_info(ex, v, true, &vi)) == KN_OK) st = push(ex, &ins, vi);
    }
    for (int i = 0; i < g->n_outputs && st == KN_OK; i++) {
        Onnx__ValueInfoProto *vi;
        if ((st = value_info(ex, g->outputs[i], true, &vi)) == KN_OK) st = push(ex, &outs, vi);
    }
    for (int v = 0; v < nv && st == KN_OK; v++) {
        const kn_value *val = &g->values[v];
        if (!used[v] || val->kind != KN_VALUE_INTERMEDIATE || kn_graph_is_output(g, v) || resolve(ex, v) != v) continue;
        Onnx__ValueInfoProto *vi;
        if ((st = value_info(ex, v, false, &vi)) == KN_OK && vi) st = push(ex, &ex->vinfo, vi);
    }
    free(used);
    if (st == KN_OK) {
        /* the lists' arrays become the message's; they are freed after packing */
        gp->n_input = ins.n; gp->input = (Onnx__ValueInfoProto **)ins.items;
        gp->n_output = outs.n; gp->output = (Onnx__ValueInfoProto **)outs.items;
    } else {
        free(ins.items);
        free(outs.items);
        return st;
    }
    gp->name = g->name && *g->name ? g->name : "kiln";
    gp->n_node = ex->nodes.n; gp->node = (Onnx__NodeProto **)ex->nodes.items;
    gp->n_initializer = ex->inits.n; gp->initializer = (Onnx__TensorProto **)ex->inits.items;
    gp->n_value_info = ex->vinfo.n; gp->value_info = (Onnx__ValueInfoProto **)ex->vinfo.items;
    m->graph = gp;
    return KN_OK;
}

kn_onnx_export_opts kn_onnx_export_defaults(void)
{
    kn_onnx_export_opts o = {.opset = 0, .batch_name = "batch"};
    return o;
}

kn_status kn_onnx_save_buffer(const kn_graph *src, const kn_onnx_export_opts *opts, void **buf, size_t *len)
{
    kn_onnx_export_opts o = opts ? *opts : kn_onnx_export_defaults();
    *buf = NULL;
    *len = 0;
    exporter ex = {0};
    ex.opset = o.opset ? o.opset : src->opset;
    ex.batch = o.batch_name && *o.batch_name ? o.batch_name : "batch";
    if (ex.opset < KN_EXPORT_MIN_OPSET || ex.opset > KN_EXPORT_MAX_OPSET)
        return kn_error(KN_ERR_UNSUPPORTED, "export opset %d is not supported (kiln writes %d..%d)", ex.opset,
                        KN_EXPORT_MIN_OPSET, KN_EXPORT_MAX_OPSET);
    KN_TRY(kn_graph_clone(&ex.g, src));
    kn_status st = kn_graph_infer_shapes(ex.g);
    Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
    Onnx__GraphProto gp = ONNX__GRAPH_PROTO__INIT;
    Onnx__OperatorSetIdProto os = ONNX__OPERATOR_SET_ID_PROTO__INIT, *osp = &os;
    if (st == KN_OK) st = build(&ex, &m, &gp);
    if (st == KN_OK) {
        m.has_ir_version = 1;
        m.ir_version = ir_for_opset(ex.opset);
        os.domain = "";
        os.has_version = 1;
        os.version = ex.opset;
        m.n_opset_import = 1;
        m.opset_import = &osp;
        m.producer_name = "kiln";
        m.producer_version = KILN_VERSION;
        m.doc_string = ex.g->doc;
        size_t n = onnx__model_proto__get_packed_size(&m);
        *buf = malloc(n ? n : 1);
        if (!*buf) st = kn_error(KN_ERR_NOMEM, "out of memory packing the model (%zu bytes)", n);
        else *len = onnx__model_proto__pack(&m, *buf);
    }
    for (size_t i = 0; i < ex.host.n; i++) kn_tensor_release(ex.host.items[i]);
    free(gp.input);
    free(gp.output);
    free(ex.nodes.items);
    free(ex.inits.items);
    free(ex.vinfo.items);
    free(ex.host.items);
    free(ex.needed);
    free(ex.live);
    free(ex.alias);
    kn_arena_free(&ex.a);
    kn_graph_free(ex.g);
    return st;
}

kn_status kn_onnx_save(const kn_graph *g, const char *path, const kn_onnx_export_opts *opts)
{
    void *buf;
    size_t len;
    kn_status st = kn_onnx_save_buffer(g, opts, &buf, &len);
    if (st != KN_OK) return kn_error_context(st, "writing '%s': ", path);
    st = kn_onnx_write_file(path, buf, len);
    free(buf);
    return st;
}
