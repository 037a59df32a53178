/* Reading a few elements of an op's input on the host whatever its device
 * (Clip bounds, Dropout ratio, Pad pads and constant value), and writing a
 * host value as element bits for the fill/pad kernels. Internal to nn/ops. */
#ifndef KN_OPS_HOST_SCALAR_H
#define KN_OPS_HOST_SCALAR_H

#include "nn/op.h"

#include <string.h>

/* Copy element i of t (any device) into a host tensor `one` of t's dtype, shape [1],
 * backed by *bits. */
static inline kn_status kn_host_elem(const kn_tensor *t, int64_t i, uint64_t *bits, kn_tensor *one)
{
    size_t es = kn_dtype_size(t->dtype);
    int64_t shape[1] = {1};
    *bits = 0;
    if (es == 0 || es > sizeof *bits || t->dtype == KN_STRING)
        return kn_error(KN_ERR_UNSUPPORTED, "cannot read a %s element on the host", kn_dtype_name(t->dtype));
    const char *src = (const char *)t->data + (size_t)i * es;
    if (t->device == KN_CPU) {
        memcpy(bits, src, es);
    } else {
        const kn_kernels *k = kn_kernels_get(t->device);
        if (!k || !k->memcpy_d2h) return kn_error(KN_ERR_DEVICE, "cannot copy from %s", kn_device_name(t->device));
        KN_TRY(k->memcpy_d2h(bits, src, es));
    }
    kn_tensor_borrow(one, t->dtype, 1, shape, bits);
    return KN_OK;
}

static inline kn_status kn_host_f64(const kn_tensor *t, int64_t i, double *v)
{
    uint64_t bits;
    kn_tensor one;
    KN_TRY(kn_host_elem(t, i, &bits, &one));
    *v = kn_tensor_get_f64(&one, 0);
    return KN_OK;
}

static inline kn_status kn_host_i64(const kn_tensor *t, int64_t i, int64_t *v)
{
    uint64_t bits;
    kn_tensor one;
    KN_TRY(kn_host_elem(t, i, &bits, &one));
    *v = kn_tensor_get_i64(&one, 0);
    return KN_OK;
}

/* Inputs 0..n-1 must be present (not omitted). */
static inline kn_status kn_require_inputs(const kn_op_ctx *c, int n)
{
    for (int i = 0; i < n; i++)
        if (!KN_IN(c, i)) return kn_node_error(c->node, KN_ERR_INVALID, "input %d is required", i);
    return KN_OK;
}

/* v converted to dtype, as the element's bytes in the low bits of *bits. */
static inline kn_status kn_value_bits(kn_dtype dtype, double v, uint64_t *bits)
{
    *bits = 0;
    switch (dtype) {
    case KN_FLOAT: { float f = (float)v; memcpy(bits, &f, 4); } break;
    case KN_DOUBLE: memcpy(bits, &v, 8); break;
    case KN_FLOAT16: { unsigned short h = kn_float_to_half((float)v); memcpy(bits, &h, 2); } break;
    case KN_INT8: { int8_t x = (int8_t)v; memcpy(bits, &x, 1); } break;
    case KN_INT16: { int16_t x = (int16_t)v; memcpy(bits, &x, 2); } break;
    case KN_INT32: { int32_t x = (int32_t)v; memcpy(bits, &x, 4); } break;
    case KN_INT64: { int64_t x = (int64_t)v; memcpy(bits, &x, 8); } break;
    case KN_UINT8: case KN_BOOL: { uint8_t x = (uint8_t)(dtype == KN_BOOL ? v != 0 : v); memcpy(bits, &x, 1); } break;
    case KN_UINT16: { uint16_t x = (uint16_t)v; memcpy(bits, &x, 2); } break;
    case KN_UINT32: { uint32_t x = (uint32_t)v; memcpy(bits, &x, 4); } break;
    case KN_UINT64: { uint64_t x = (uint64_t)v; memcpy(bits, &x, 8); } break;
    default: return kn_error(KN_ERR_UNSUPPORTED, "no %s value can be made", kn_dtype_name(dtype));
    }
    return KN_OK;
}

/* Element strides of a tensor of shape (nd, shape) read as the broadcast output shape
 * (out_nd dims, right-aligned): 0 on dims it is broadcast over. */
static inline void kn_bcast_strides(int out_nd, int nd, const int64_t *shape, int64_t *strides)
{
    int64_t s = 1;
    for (int i = out_nd - 1; i >= 0; i--) {
        int j = i - (out_nd - nd);
        int64_t d = j >= 0 ? shape[j] : 1;
        strides[i] = d == 1 ? 0 : s;
        s *= d;
    }
}

#endif
