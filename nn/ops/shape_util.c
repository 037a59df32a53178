/* Helpers shared by the shape and data-movement ops. */
#include "nn/ops/shape_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *kn_ints_str(char *buf, size_t size, int n, const int64_t *v)
{
    size_t used = 0;
    if (size == 0) return buf;
    buf[0] = 0;
    used += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? "," : "", (long long)v[i]);
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}

kn_status kn_shape_read_ints(const kn_op_ctx *c, int input, const char *what, int64_t *out, int max, int *count)
{
    const kn_tensor *t = KN_IN(c, input);
    if (!t) return kn_node_error(c->node, KN_ERR_INVALID, "input %d (%s) is required", input, what);
    if (!kn_dtype_is_int(t->dtype))
        return kn_node_error(c->node, KN_ERR_SHAPE, "input %d (%s) must be int64 (or another integer type), got %s",
                             input, what, kn_dtype_name(t->dtype));
    if (t->ndim > 1)
        return kn_node_error(c->node, KN_ERR_SHAPE, "input %d (%s) must be 1-D, got rank %d", input, what, t->ndim);
    int64_t n = t->ndim == 0 ? 1 : t->shape[0];
    if (n < 0 || n > max)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "input %d (%s) has %lld values; at most %d are supported",
                             input, what, (long long)n, max);
    if (!t->data) return kn_node_error(c->node, KN_ERR_INVALID, "input %d (%s) has no data", input, what);
    *count = (int)n;
    if (t->device == KN_CPU) {
        for (int64_t i = 0; i < n; i++) out[i] = kn_tensor_get_i64(t, i);
        return KN_OK;
    }
    /* device tensor: bring the few bytes to the host, then read them */
    unsigned char host[2 * KN_MAX_DIMS * 8 + 64];
    size_t bytes = (size_t)n * kn_dtype_size(t->dtype);
    unsigned char *buf = bytes <= sizeof host ? host : malloc(bytes);
    if (!buf) return kn_error(KN_ERR_NOMEM, "out of memory");
    kn_status st = KN_KCALL(c->k, memcpy_d2h, buf, t->data, bytes);
    if (st == KN_OK) {
        kn_tensor h;
        kn_tensor_borrow(&h, t->dtype, t->ndim, t->shape, buf);
        for (int64_t i = 0; i < n; i++) out[i] = kn_tensor_get_i64(&h, i);
    }
    if (buf != host) free(buf);
    return st;
}

kn_status kn_shape_ints_arg(const kn_op_ctx *c, int input, int from_opset, const char *attr, int64_t *out,
                            int max, int *count)
{
    if (c->opset >= from_opset || KN_IN(c, input)) {
        if (!KN_IN(c, input)) {
            *count = -1;
            return KN_OK;
        }
        if (kn_node_attr(c->node, attr))
            return kn_node_error(c->node, KN_ERR_INVALID, "'%s' is given both as attribute and as input %d", attr, input);
        return kn_shape_read_ints(c, input, attr, out, max, count);
    }
    return kn_attr_ints(c->node, attr, out, max, count);
}

bool kn_shape_known_numel(int ndim, const int64_t *shape, int64_t *numel)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return false;
        n *= shape[i];
    }
    *numel = n;
    return true;
}

void kn_shape_strides(int ndim, const int64_t *shape, int64_t *strides)
{
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        strides[d] = s;
        s *= shape[d];
    }
}

kn_status kn_shape_accum(const kn_op_ctx *c, kn_tensor *gin, const kn_tensor *gout)
{
    if (!gin || !gout) return KN_OK;
    if (gin->dtype != KN_FLOAT || gout->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "gradients are float32 only, got %s",
                             kn_dtype_name(gout->dtype));
    int64_t n = kn_tensor_numel(gin), one = 1;
    if (n != kn_tensor_numel(gout))
        return kn_node_error(c->node, KN_ERR_INTERNAL, "gradient sizes differ (%lld vs %lld)", (long long)n,
                             (long long)kn_tensor_numel(gout));
    return KN_KCALL(c->k, add_strided, 1, &n, gout->data, &one, gin->data, &one);
}

kn_status kn_shape_copy_if_needed(const kn_op_ctx *c, kn_tensor *out, const kn_tensor *in)
{
    if (out->data == in->data) return KN_OK;
    if (in->dtype == KN_STRING)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "copying string tensors is not supported");
    size_t bytes = kn_tensor_bytes(in);
    if (bytes != kn_tensor_bytes(out))
        return kn_node_error(c->node, KN_ERR_INTERNAL, "output holds %zu bytes, input %zu", kn_tensor_bytes(out), bytes);
    if (bytes == 0) return KN_OK;
    return KN_KCALL(c->k, memcpy_d2d, out->data, in->data, bytes);
}

kn_status kn_shape_upload(const kn_op_ctx *c, kn_tensor *out, const void *host, size_t bytes)
{
    if (bytes == 0) return KN_OK;
    if (bytes > kn_tensor_bytes(out))
        return kn_node_error(c->node, KN_ERR_INTERNAL, "output holds %zu bytes, %zu to write", kn_tensor_bytes(out), bytes);
    return KN_KCALL(c->k, memcpy_h2d, out->data, host, bytes);
}
