/* Index helpers of the second ops batch (see index_util.h). */
#include "nn/ops/index_util.h"

#include <stdlib.h>

/* Float indices (OneHot allows them) truncate toward zero. */
static int64_t index_at(const kn_tensor *t, int64_t i)
{
    return kn_dtype_is_float(t->dtype) ? (int64_t)kn_tensor_get_f64(t, i) : kn_tensor_get_i64(t, i);
}

kn_status kn_index_read(const kn_op_ctx *c, int input, int64_t **out, int64_t *count)
{
    const kn_tensor *t = KN_IN(c, input);
    *out = NULL;
    *count = 0;
    if (!t) return kn_node_error(c->node, KN_ERR_INVALID, "input %d is required", input);
    if (!kn_dtype_is_int(t->dtype) && !kn_dtype_is_float(t->dtype) && t->dtype != KN_BOOL)
        return kn_node_error(c->node, KN_ERR_SHAPE, "input %d must be a numeric tensor, got %s", input,
                             kn_dtype_name(t->dtype));
    int64_t n = kn_tensor_numel(t);
    *count = n;
    if (n == 0) return KN_OK;
    int64_t *h = malloc((size_t)n * sizeof *h);
    if (!h) return kn_error(KN_ERR_NOMEM, "out of memory for %lld indices", (long long)n);
    kn_status st = KN_OK;
    if (t->device == KN_CPU) {
        for (int64_t i = 0; i < n; i++) h[i] = index_at(t, i);
    } else { /* fetch the raw bytes into the same array, widen in place from the end */
        st = KN_KCALL(c->k, memcpy_d2h, h, t->data, (size_t)n * kn_dtype_size(t->dtype));
        if (st == KN_OK) {
            kn_tensor view;
            kn_tensor_borrow(&view, t->dtype, t->ndim, t->shape, h);
            for (int64_t i = n - 1; i >= 0; i--) h[i] = index_at(&view, i);
        }
    }
    if (st != KN_OK) {
        free(h);
        return st;
    }
    *out = h;
    return KN_OK;
}

kn_status kn_index_upload(const kn_op_ctx *c, const int64_t *host, int64_t n)
{
    size_t bytes = (size_t)n * sizeof *host;
    if (n == 0) return KN_OK;
    if (c->ws_bytes < bytes)
        return kn_node_error(c->node, KN_ERR_INTERNAL, "workspace too small for %lld offsets", (long long)n);
    return KN_KCALL(c->k, memcpy_h2d, c->ws, host, bytes);
}

kn_status kn_index_norm(const kn_op_ctx *c, const char *what, int64_t pos, int64_t dim, int64_t *v)
{
    if (*v < -dim || *v >= dim)
        return kn_node_error(c->node, KN_ERR_INVALID, "%s %lld at position %lld is out of range for a dim of size %lld",
                             what, (long long)*v, (long long)pos, (long long)dim);
    if (*v < 0) *v += dim;
    return KN_OK;
}
