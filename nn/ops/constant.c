/* Constant (ONNX 1-21): the tensor of exactly one attribute among value
 * (a tensor), value_float, value_floats (1-D float), value_int, value_ints
 * (1-D int64). value_string, value_strings and sparse_value are refused
 * with KN_ERR_UNSUPPORTED: kiln computes on dense numeric tensors only. */
#include "nn/ops/shape_util.h"

#include <string.h>

typedef struct const_src {
    kn_dtype dtype;
    int ndim;
    int64_t shape[KN_MAX_DIMS];
    const void *data;
    int64_t i;  /* storage for value_int */
    float f;    /* storage for value_float */
} const_src;

static kn_status const_source(const kn_op_ctx *c, const_src *s)
{
    static const char *const unsupported[] = {"value_string", "value_strings", "sparse_value"};
    static const char *const known[] = {"value", "value_float", "value_floats", "value_int", "value_ints"};
    for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++)
        if (kn_node_attr(c->node, unsupported[i]))
            return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "attribute '%s' is not supported (numeric tensors only)",
                                 unsupported[i]);
    const kn_attr *a = NULL;
    int found = 0;
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        const kn_attr *t = kn_node_attr(c->node, known[i]);
        if (t) { a = t; found++; }
    }
    if (found != 1)
        return kn_node_error(c->node, KN_ERR_INVALID, "needs exactly one of value, value_float(s), value_int(s); %d given", found);
    memset(s, 0, sizeof *s);
    if (!strcmp(a->name, "value")) {
        if (a->type != KN_ATTR_TENSOR) return kn_node_error(c->node, KN_ERR_INVALID, "attribute 'value' must be a tensor");
        if (a->t.dtype == KN_STRING)
            return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "string constants are not supported");
        s->dtype = a->t.dtype;
        s->ndim = a->t.ndim;
        memcpy(s->shape, a->t.shape, sizeof(int64_t) * (size_t)a->t.ndim);
        s->data = a->t.data;
        if (!s->data && kn_tensor_numel(&a->t) > 0)
            return kn_node_error(c->node, KN_ERR_INVALID, "attribute 'value' has no data");
    } else if (!strcmp(a->name, "value_float")) {
        if (a->type != KN_ATTR_FLOAT) return kn_node_error(c->node, KN_ERR_INVALID, "attribute 'value_float' must be a float");
        s->dtype = KN_FLOAT;
        s->f = a->f;
    } else if (!strcmp(a->name, "value_int")) {
        if (a->type != KN_ATTR_INT) return kn_node_error(c->node, KN_ERR_INVALID, "attribute 'value_int' must be an int");
        s->dtype = KN_INT64;
        s->i = a->i;
    } else if (!strcmp(a->name, "value_floats")) {
        if (a->type != KN_ATTR_FLOATS) return kn_node_error(c->node, KN_ERR_INVALID, "attribute 'value_floats' must be floats");
        s->dtype = KN_FLOAT;
        s->ndim = 1;
        s->shape[0] = a->n;
        s->data = a->floats;
    } else {
        if (a->type != KN_ATTR_INTS) return kn_node_error(c->node, KN_ERR_INVALID, "attribute 'value_ints' must be ints");
        s->dtype = KN_INT64;
        s->ndim = 1;
        s->shape[0] = a->n;
        s->data = a->ints;
    }
    return KN_OK;
}

static kn_status constant_infer(kn_op_ctx *c)
{
    const_src s;
    KN_TRY(const_source(c, &s));
    kn_op_set_out(c, 0, s.dtype, s.ndim, s.shape);
    return KN_OK;
}

static kn_status constant_forward(kn_op_ctx *c)
{
    const_src s;
    KN_TRY(const_source(c, &s));
    const void *src = s.data ? s.data : (s.dtype == KN_FLOAT ? (const void *)&s.f : (const void *)&s.i);
    return kn_shape_upload(c, c->out[0], src, kn_tensor_bytes(c->out[0]));
}

const kn_op_def kn_op_constant = {
    .name = "Constant", .domain = "",
    .min_inputs = 0, .max_inputs = 0, .min_outputs = 1, .max_outputs = 1,
    .infer = constant_infer, .forward = constant_forward,
};
