/* MaxPool (ONNX). Float 1-D and 2-D run on the maxpool2d kernels; 3-D and up,
 * and every other dtype the N-d kernel takes (double, float16, the integer
 * types: max is exact), run on maxpoolnd. In training the forward pass keeps the
 * argmax (flat index within each image's spatial volume) in state[0] for
 * backward (float only). The optional Indices output follows ONNX: int64
 * indices into the flattened input, row-major within the volume (storage_order
 * 0) or column-major (storage_order 1); it is computed on the host, so only CPU
 * sessions produce it. */
#include "nn/ops/window.h"

#include <string.h>

static bool mp_dtype_ok(kn_dtype dt)
{
    return dt == KN_FLOAT || dt == KN_DOUBLE || dt == KN_FLOAT16 || (kn_dtype_is_int(dt) && dt != KN_BOOL);
}

static kn_status mp_geom(const kn_op_ctx *c, kn_window *win, int64_t *y, int64_t *storage_order)
{
    const kn_tensor *x = c->in[0];
    KN_TRY(kn_window_check_rank(c, x, "X"));
    if (!mp_dtype_ok(x->dtype))
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "X is %s; MaxPool takes float, double, float16 or integers",
                             kn_dtype_name(x->dtype));
    KN_TRY(kn_window_read(c->node, x->ndim - 2, NULL, true, win));
    KN_TRY(kn_attr_int(c->node, "storage_order", 0, storage_order));
    if (*storage_order != 0 && *storage_order != 1)
        return kn_node_error(c->node, KN_ERR_INVALID, "storage_order = %lld must be 0 or 1", (long long)*storage_order);
    y[0] = x->shape[0];
    y[1] = x->shape[1];
    return kn_window_out_dims(c->node, win, x->shape + 2, y + 2);
}

static bool wants_indices(const kn_op_ctx *c) { return c->n_out > 1 && c->out[1]; }

static kn_status mp_infer(kn_op_ctx *c)
{
    kn_window win;
    int64_t y[KN_MAX_DIMS], so;
    KN_TRY(mp_geom(c, &win, y, &so));
    kn_op_set_out(c, 0, c->in[0]->dtype, c->in[0]->ndim, y);
    if (wants_indices(c)) kn_op_set_out(c, 1, KN_INT64, c->in[0]->ndim, y);
    return KN_OK;
}

/* Descriptors for this run; *nd selects the N-d kernel. */
static kn_status mp_desc(const kn_op_ctx *c, bool *nd, kn_pool2d_desc *d2, kn_nd_desc *dn, int64_t *storage_order)
{
    kn_window win;
    int64_t y[KN_MAX_DIMS];
    KN_TRY(mp_geom(c, &win, y, storage_order));
    *nd = win.rank > 2 || c->in[0]->dtype != KN_FLOAT;
    if (*nd) kn_window_nd_desc(&win, c->in[0]->shape, y, 1, false, dn);
    else kn_window_pool_desc(&win, c->in[0]->shape, y, false, d2);
    return KN_OK;
}

/* Volume-local argmax a (row-major over the spatial dims) -> column-major. */
static int64_t col_major(int rank, const int64_t *dims, int64_t a)
{
    int64_t co[KN_MAX_DIMS], r = 0;
    for (int i = rank - 1; i >= 0; i--) {
        co[i] = a % dims[i];
        a /= dims[i];
    }
    for (int i = rank - 1; i >= 0; i--) r = r * dims[i] + co[i];
    return r;
}

static kn_status mp_forward(kn_op_ctx *c)
{
    kn_pool2d_desc d2;
    kn_nd_desc dn;
    bool nd;
    int64_t so;
    KN_TRY(mp_desc(c, &nd, &d2, &dn, &so));
    const kn_tensor *x = c->in[0];
    kn_tensor *y = c->out[0], *st = &c->state[0];
    kn_tensor *ind = wants_indices(c) && c->out[1]->data ? c->out[1] : NULL;
    if (ind && c->device != KN_CPU)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "the Indices output is only produced on the CPU, not on %s",
                             kn_device_name(c->device));
    int64_t *arg = ind ? ind->data : NULL;
    if (c->training && x->dtype == KN_FLOAT) { /* keep the argmax for backward */
        KN_TRY(kn_tensor_ensure_on(st, KN_INT64, y->ndim, y->shape, c->device, NULL));
        arg = st->data;
    }
    if (nd) KN_TRY(KN_KCALL(c->k, maxpoolnd_fwd, &dn, x->dtype, x->data, y->data, arg));
    else KN_TRY(KN_KCALL(c->k, maxpool2d_fwd, &d2, x->data, y->data, arg));
    if (ind) { /* volume-local argmax -> ONNX flat index into the whole input */
        const int rank = x->ndim - 2;
        const int64_t *dims = x->shape + 2;
        int64_t vol = 1, ovol = 1;
        for (int i = 0; i < rank; i++) {
            vol *= dims[i];
            ovol *= y->shape[2 + i];
        }
        int64_t *o = ind->data;
        if (arg != o) memcpy(o, arg, sizeof(int64_t) * (size_t)(x->shape[0] * x->shape[1] * ovol));
        for (int64_t p = 0; p < x->shape[0] * x->shape[1]; p++)
            for (int64_t j = 0; j < ovol; j++) {
                int64_t a = o[p * ovol + j];
                if (a < 0) continue; /* window entirely in padding */
                o[p * ovol + j] = p * vol + (so ? col_major(rank, dims, a) : a);
            }
    }
    return KN_OK;
}

static kn_status mp_backward(kn_op_ctx *c)
{
    if (!c->gout[0] || !c->gin[0]) return KN_OK;
    if (c->in[0]->dtype != KN_FLOAT)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "gradient of MaxPool on %s: only float is supported",
                             kn_dtype_name(c->in[0]->dtype));
    if (!c->state[0].data)
        return kn_node_error(c->node, KN_ERR_INVALID, "backward needs a training-mode forward pass (no argmax kept)");
    kn_pool2d_desc d2;
    kn_nd_desc dn;
    bool nd;
    int64_t so;
    KN_TRY(mp_desc(c, &nd, &d2, &dn, &so));
    if (nd) return KN_KCALL(c->k, maxpoolnd_bwd, &dn, c->gout[0]->data, c->state[0].data, c->gin[0]->data);
    return KN_KCALL(c->k, maxpool2d_bwd, &d2, c->gout[0]->data, c->state[0].data, c->gin[0]->data);
}

const kn_op_def kn_op_maxpool = {
    .name = "MaxPool", .domain = "", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 2,
    .infer = mp_infer, .forward = mp_forward, .backward = mp_backward,
};
