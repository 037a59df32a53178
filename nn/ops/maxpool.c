/* MaxPool (ONNX), 1-D and 2-D, float. In training the forward pass keeps the
 * argmax (flat index within each image plane) in state[0] for backward. The
 * optional Indices output follows ONNX: int64 indices into the flattened NCHW
 * input, row-major within the plane (storage_order 0) or column-major
 * (storage_order 1); it is computed on the host, so only CPU sessions produce it. */
#include "nn/ops/window.h"

#include <string.h>

static kn_status mp_geom(const kn_op_ctx *c, kn_window *win, int64_t *y, int64_t *storage_order)
{
    const kn_tensor *x = c->in[0];
    KN_TRY(kn_window_check_input(c, x, "X"));
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
    kn_op_set_out(c, 0, KN_FLOAT, c->in[0]->ndim, y);
    if (wants_indices(c)) kn_op_set_out(c, 1, KN_INT64, c->in[0]->ndim, y);
    return KN_OK;
}

static kn_status mp_desc(const kn_op_ctx *c, kn_pool2d_desc *d, int64_t *storage_order)
{
    kn_window win;
    int64_t y[KN_MAX_DIMS];
    KN_TRY(mp_geom(c, &win, y, storage_order));
    kn_window_pool_desc(&win, c->in[0]->shape, y, false, d);
    return KN_OK;
}

static kn_status mp_forward(kn_op_ctx *c)
{
    kn_pool2d_desc d;
    int64_t so;
    KN_TRY(mp_desc(c, &d, &so));
    kn_tensor *y = c->out[0], *st = &c->state[0];
    kn_tensor *ind = wants_indices(c) && c->out[1]->data ? c->out[1] : NULL;
    if (ind && c->device != KN_CPU)
        return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "the Indices output is only produced on the CPU, not on %s",
                             kn_device_name(c->device));
    int64_t *arg = ind ? ind->data : NULL;
    if (c->training) { /* keep the argmax for backward */
        if (!(st->data && st->dtype == KN_INT64 && kn_shape_equal(st->ndim, st->shape, y->ndim, y->shape))) {
            kn_tensor_release(st);
            KN_TRY(kn_tensor_init_on(st, KN_INT64, y->ndim, y->shape, c->device));
        }
        arg = st->data;
    }
    KN_TRY(KN_KCALL(c->k, maxpool2d_fwd, &d, c->in[0]->data, y->data, arg));
    if (ind) { /* plane-local argmax -> ONNX flat NCHW index */
        int64_t *o = ind->data;
        const int64_t po = d.oh * d.ow, hw = d.h * d.w;
        if (arg != o) memcpy(o, arg, sizeof(int64_t) * (size_t)(d.n * d.c * po));
        for (int64_t p = 0; p < d.n * d.c; p++)
            for (int64_t j = 0; j < po; j++) {
                int64_t a = o[p * po + j];
                if (a < 0) continue; /* window entirely in padding */
                o[p * po + j] = p * hw + (so ? (a % d.w) * d.h + a / d.w : a);
            }
    }
    return KN_OK;
}

static kn_status mp_backward(kn_op_ctx *c)
{
    if (!c->gout[0] || !c->gin[0]) return KN_OK;
    if (!c->state[0].data)
        return kn_node_error(c->node, KN_ERR_INVALID, "backward needs a training-mode forward pass (no argmax kept)");
    kn_pool2d_desc d;
    int64_t so;
    KN_TRY(mp_desc(c, &d, &so));
    return KN_KCALL(c->k, maxpool2d_bwd, &d, c->gout[0]->data, c->state[0].data, c->gin[0]->data);
}

const kn_op_def kn_op_maxpool = {
    .name = "MaxPool", .domain = "", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 2,
    .infer = mp_infer, .forward = mp_forward, .backward = mp_backward,
};
