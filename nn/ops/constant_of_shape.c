/* ConstantOfShape (ONNX 9-21): a tensor of the shape given by the int64
 * input, filled with the one element of the `value` tensor attribute
 * (default float 0). An empty shape input gives a scalar. The fill runs on
 * the host (directly into CPU outputs; through a host buffer and one upload
 * elsewhere); zero fills use the device's memset. */
#include "nn/ops/shape_util.h"

#include <stdlib.h>
#include <string.h>

static kn_status cos_value(const kn_op_ctx *c, kn_dtype *dtype, const void **val)
{
    static const float zero = 0.0f;
    const kn_attr *a = kn_node_attr(c->node, "value");
    if (!a) {
        *dtype = KN_FLOAT;
        *val = &zero;
        return KN_OK;
    }
    if (a->type != KN_ATTR_TENSOR) return kn_node_error(c->node, KN_ERR_INVALID, "attribute 'value' must be a tensor");
    if (kn_tensor_numel(&a->t) != 1 || !a->t.data)
        return kn_node_error(c->node, KN_ERR_INVALID, "attribute 'value' must hold exactly one element, it holds %lld",
                             (long long)kn_tensor_numel(&a->t));
    if (a->t.dtype == KN_STRING || kn_dtype_size(a->t.dtype) == 0)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "value of type %s is not supported", kn_dtype_name(a->t.dtype));
    *dtype = a->t.dtype;
    *val = a->t.data;
    return KN_OK;
}

static kn_status cos_infer(kn_op_ctx *c)
{
    int64_t s[KN_MAX_DIMS];
    int n;
    kn_dtype dt;
    const void *v;
    char b[160];
    KN_TRY(cos_value(c, &dt, &v));
    KN_TRY(kn_shape_read_ints(c, 0, "shape", s, KN_MAX_DIMS, &n));
    if (c->in[0]->ndim != 1) return kn_node_error(c->node, KN_ERR_SHAPE, "input 0 (shape) must be 1-D");
    for (int i = 0; i < n; i++)
        if (s[i] < 0) return kn_node_error(c->node, KN_ERR_INVALID, "shape %s has a negative dim", kn_ints_str(b, sizeof b, n, s));
    kn_op_set_out(c, 0, dt, n, s);
    return KN_OK;
}

static kn_status cos_forward(kn_op_ctx *c)
{
    kn_tensor *y = c->out[0];
    kn_dtype dt;
    const void *v;
    KN_TRY(cos_value(c, &dt, &v));
    size_t es = kn_dtype_size(dt), bytes = kn_tensor_bytes(y);
    int64_t n = kn_tensor_numel(y);
    if (n == 0) return KN_OK;
    bool zero = true;
    for (size_t i = 0; i < es; i++) zero &= ((const unsigned char *)v)[i] == 0;
    if (zero) return KN_KCALL(c->k, memset0, y->data, bytes);
    unsigned char *host = c->device == KN_CPU ? y->data : malloc(bytes);
    if (!host) return kn_error(KN_ERR_NOMEM, "out of memory for %zu bytes", bytes);
    for (int64_t i = 0; i < n; i++) memcpy(host + (size_t)i * es, v, es);
    kn_status st = KN_OK;
    if (c->device != KN_CPU) {
        st = kn_shape_upload(c, y, host, bytes);
        free(host);
    }
    return st;
}

const kn_op_def kn_op_constant_of_shape = {
    .name = "ConstantOfShape", .domain = "", .infer_data = 1u << 0,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = cos_infer, .forward = cos_forward,
};
