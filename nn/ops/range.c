/* Range (ONNX 11-21): [start, start + delta, ...) up to (not including)
 * limit, n = max(ceil((limit - start) / delta), 0) elements, for float,
 * double, int16, int32 and int64 scalars. The scalars are read on the host
 * whatever their device, and the values computed there (start + i * delta in
 * the output dtype) and uploaded. */
#include "nn/ops/host_scalar.h"
#include "nn/ops/shape_util.h"

#include <math.h>
#include <stdlib.h>

static kn_status range_count(const kn_op_ctx *c, int64_t *n)
{
    kn_dtype dt = c->in[0]->dtype;
    for (int i = 0; i < 3; i++) {
        const kn_tensor *t = c->in[i];
        if (t->dtype != dt)
            return kn_node_error(c->node, KN_ERR_SHAPE, "inputs must share one dtype: input %d is %s, input 0 is %s", i,
                                 kn_dtype_name(t->dtype), kn_dtype_name(dt));
        if (kn_tensor_numel(t) != 1)
            return kn_node_error(c->node, KN_ERR_SHAPE, "input %d must be a scalar, it has %lld elements", i,
                                 (long long)kn_tensor_numel(t));
    }
    if (dt != KN_FLOAT && dt != KN_DOUBLE && dt != KN_INT16 && dt != KN_INT32 && dt != KN_INT64)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "Range on %s is not supported", kn_dtype_name(dt));
    if (dt == KN_FLOAT || dt == KN_DOUBLE) {
        double s, l, d;
        KN_TRY(kn_host_f64(c->in[0], 0, &s));
        KN_TRY(kn_host_f64(c->in[1], 0, &l));
        KN_TRY(kn_host_f64(c->in[2], 0, &d));
        if (d == 0 || !isfinite(s) || !isfinite(l) || !isfinite(d))
            return kn_node_error(c->node, KN_ERR_INVALID, "start %g, limit %g, delta %g do not make a finite range", s, l, d);
        double cnt = ceil((l - s) / d);
        if (cnt > 1e15) return kn_node_error(c->node, KN_ERR_NOMEM, "range of %g elements is too large", cnt);
        *n = cnt > 0 ? (int64_t)cnt : 0;
    } else {
        int64_t s, l, d;
        KN_TRY(kn_host_i64(c->in[0], 0, &s));
        KN_TRY(kn_host_i64(c->in[1], 0, &l));
        KN_TRY(kn_host_i64(c->in[2], 0, &d));
        if (d == 0) return kn_node_error(c->node, KN_ERR_INVALID, "delta is 0");
        /* in long double so extreme int64 values cannot overflow */
        long double cnt = ceill(((long double)l - (long double)s) / (long double)d);
        if (cnt > 1e15L) return kn_node_error(c->node, KN_ERR_NOMEM, "range of %Lg elements is too large", cnt);
        *n = cnt > 0 ? (int64_t)cnt : 0;
    }
    return KN_OK;
}

static kn_status range_infer(kn_op_ctx *c)
{
    int64_t n;
    KN_TRY(range_count(c, &n));
    kn_op_set_out(c, 0, c->in[0]->dtype, 1, &n);
    return KN_OK;
}

static kn_status range_forward(kn_op_ctx *c)
{
    int64_t n;
    KN_TRY(range_count(c, &n));
    kn_tensor *y = c->out[0];
    size_t bytes = kn_tensor_bytes(y);
    if (n == 0) return KN_OK;
    double sf = 0, df = 0;
    int64_t si = 0, di = 0;
    if (y->dtype == KN_FLOAT || y->dtype == KN_DOUBLE) {
        KN_TRY(kn_host_f64(c->in[0], 0, &sf));
        KN_TRY(kn_host_f64(c->in[2], 0, &df));
    } else {
        KN_TRY(kn_host_i64(c->in[0], 0, &si));
        KN_TRY(kn_host_i64(c->in[2], 0, &di));
    }
    void *host = c->device == KN_CPU ? y->data : malloc(bytes);
    if (!host) return kn_error(KN_ERR_NOMEM, "out of memory for %zu bytes", bytes);
    switch (y->dtype) {
    case KN_FLOAT: {
        float s = (float)sf, d = (float)df;
        for (int64_t i = 0; i < n; i++) ((float *)host)[i] = s + (float)i * d;
        break;
    }
    case KN_DOUBLE: {
        for (int64_t i = 0; i < n; i++) ((double *)host)[i] = sf + (double)i * df;
        break;
    }
    default: {
        const int64_t s = si, d = di;
        for (int64_t i = 0; i < n; i++) {
            int64_t v = s + i * d;
            if (y->dtype == KN_INT64) ((int64_t *)host)[i] = v;
            else if (y->dtype == KN_INT32) ((int32_t *)host)[i] = (int32_t)v;
            else ((int16_t *)host)[i] = (int16_t)v;
        }
    }
    }
    kn_status st = KN_OK;
    if (c->device != KN_CPU) {
        st = kn_shape_upload(c, y, host, bytes);
        free(host);
    }
    return st;
}

const kn_op_def kn_op_range = {
    .name = "Range", .domain = "", .infer_data = 0x7u,
    .min_inputs = 3, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = range_infer, .forward = range_forward,
};
