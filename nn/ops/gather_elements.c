/* GatherElements (ONNX 11-21), ScatterElements (11-21) and its deprecated
 * name Scatter (9-10). Both address data elementwise: the element at index
 * position p reads/writes data at p with coordinate `axis` replaced by
 * indices[p]. The op turns every index into a flat element offset on the host
 * (checking its range there) and runs the plain gather / scatter kernels with
 * one-element rows. GatherElements' backward scatter-adds gy through the same
 * offsets. ScatterElements `reduction` is add/mul from opset 16, max/min from
 * 18; repeated indices apply in order (the last write wins for none). */
#include "nn/ops/index_util.h"
#include "nn/ops/shape_util.h"

#include <stdlib.h>
#include <string.h>

static kn_status elems_check(kn_op_ctx *c, const kn_tensor *x, const kn_tensor *idx, int *axis)
{
    int64_t a;
    KN_TRY(kn_attr_int(c->node, "axis", 0, &a));
    if (x->ndim == 0) return kn_node_error(c->node, KN_ERR_SHAPE, "data must have rank >= 1");
    KN_TRY(kn_op_axis(c, a, x->ndim, axis));
    if (idx->dtype != KN_INT64 && idx->dtype != KN_INT32)
        return kn_node_error(c->node, KN_ERR_SHAPE, "indices must be int32 or int64, got %s", kn_dtype_name(idx->dtype));
    char s1[160], s2[160];
    if (idx->ndim != x->ndim)
        return kn_node_error(c->node, KN_ERR_SHAPE, "indices %s must have the rank of data %s",
                             kn_shape_str(s1, sizeof s1, idx->ndim, idx->shape), kn_shape_str(s2, sizeof s2, x->ndim, x->shape));
    /* other dims index data directly, so they must fit in it */
    for (int d = 0; d < x->ndim; d++)
        if (d != *axis && idx->shape[d] != KN_DIM_UNKNOWN && x->shape[d] != KN_DIM_UNKNOWN && idx->shape[d] > x->shape[d])
            return kn_node_error(c->node, KN_ERR_SHAPE, "indices %s exceed data %s on dim %d",
                                 kn_shape_str(s1, sizeof s1, idx->ndim, idx->shape),
                                 kn_shape_str(s2, sizeof s2, x->ndim, x->shape), d);
    return KN_OK;
}

/* Flat element offsets into x for every index of input 1, uploaded to the workspace. */
static kn_status elems_offsets(kn_op_ctx *c, const kn_tensor *x, int axis, int64_t *n)
{
    const kn_tensor *idx = c->in[1];
    int64_t *h, xs[KN_MAX_DIMS];
    KN_TRY(kn_index_read(c, 1, &h, n));
    kn_shape_strides(x->ndim, x->shape, xs);
    kn_status st = KN_OK;
    for (int64_t p = 0; p < *n && st == KN_OK; p++) {
        int64_t rem = p, off = 0;
        for (int d = idx->ndim - 1; d >= 0; d--) {
            int64_t coord = rem % idx->shape[d];
            rem /= idx->shape[d];
            if (d == axis) {
                coord = h[p];
                st = kn_index_norm(c, "index", p, x->shape[axis], &coord);
            }
            off += coord * xs[d];
        }
        h[p] = off;
    }
    if (st == KN_OK) st = kn_index_upload(c, h, *n);
    free(h);
    return st;
}

static size_t elems_ws(kn_op_ctx *c) { return (size_t)kn_tensor_numel(c->in[1]) * sizeof(int64_t); }

static kn_status gather_elements_infer(kn_op_ctx *c)
{
    int axis;
    KN_TRY(elems_check(c, c->in[0], c->in[1], &axis));
    kn_op_set_out(c, 0, c->in[0]->dtype, c->in[1]->ndim, c->in[1]->shape);
    return KN_OK;
}

static kn_status gather_elements_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    int axis;
    int64_t n;
    if (x->dtype == KN_STRING) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "string tensors are not supported");
    KN_TRY(elems_check(c, x, c->in[1], &axis));
    KN_TRY(elems_offsets(c, x, axis, &n));
    if (n == 0) return KN_OK;
    return KN_KCALL(c->k, gather, kn_dtype_size(x->dtype), 1, kn_tensor_numel(x), 1, c->ws, n, x->data, c->out[0]->data);
}

static kn_status gather_elements_backward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0], *gy = c->gout[0];
    if (!gy || !c->gin[0]) return KN_OK;
    if (x->dtype != KN_FLOAT) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "gradients need float data");
    int axis;
    int64_t n;
    KN_TRY(elems_check(c, x, c->in[1], &axis));
    KN_TRY(elems_offsets(c, x, axis, &n));
    if (n == 0) return KN_OK;
    return KN_KCALL(c->k, gather_bwd, 1, kn_tensor_numel(x), 1, c->ws, n, gy->data, c->gin[0]->data);
}

const kn_op_def kn_op_gather_elements = {
    .name = "GatherElements", .domain = "",
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = gather_elements_infer, .forward = gather_elements_forward,
    .backward = gather_elements_backward, .workspace = elems_ws,
};

/* ScatterND shares the reduction attribute (nn/ops/gather_nd.c declares it too). */
kn_status kn_scatter_reduction(const kn_op_ctx *c, kn_scatter_red *red);
kn_status kn_scatter_reduction(const kn_op_ctx *c, kn_scatter_red *red)
{
    const char *s;
    KN_TRY(kn_attr_string(c->node, "reduction", "none", &s));
    *red = KN_SCATTER_NONE;
    if (!strcmp(s, "none")) return KN_OK;
    int need = 18;
    if (!strcmp(s, "add")) { *red = KN_SCATTER_ADD; need = 16; }
    else if (!strcmp(s, "mul")) { *red = KN_SCATTER_MUL; need = 16; }
    else if (!strcmp(s, "max")) *red = KN_SCATTER_MAX;
    else if (!strcmp(s, "min")) *red = KN_SCATTER_MIN;
    else return kn_node_error(c->node, KN_ERR_INVALID, "reduction '%s' is not one of none, add, mul, max, min", s);
    if (c->opset < need)
        return kn_node_error(c->node, KN_ERR_INVALID, "reduction '%s' needs opset %d, the model has %d", s, need, c->opset);
    return KN_OK;
}

static kn_status scatter_elements_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0], *idx = c->in[1], *u = c->in[2];
    int axis;
    kn_scatter_red red;
    KN_TRY(elems_check(c, x, idx, &axis));
    KN_TRY(kn_scatter_reduction(c, &red));
    char s1[160], s2[160];
    if (u->dtype != x->dtype)
        return kn_node_error(c->node, KN_ERR_SHAPE, "updates are %s, data %s", kn_dtype_name(u->dtype), kn_dtype_name(x->dtype));
    bool same = u->ndim == idx->ndim;
    for (int d = 0; same && d < u->ndim; d++)
        same = u->shape[d] == idx->shape[d] || u->shape[d] == KN_DIM_UNKNOWN || idx->shape[d] == KN_DIM_UNKNOWN;
    if (!same)
        return kn_node_error(c->node, KN_ERR_SHAPE, "updates %s must have the shape of indices %s",
                             kn_shape_str(s1, sizeof s1, u->ndim, u->shape), kn_shape_str(s2, sizeof s2, idx->ndim, idx->shape));
    kn_op_set_out(c, 0, x->dtype, x->ndim, x->shape);
    return KN_OK;
}

static kn_status scatter_elements_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    kn_tensor *y = c->out[0];
    int axis;
    int64_t n;
    kn_scatter_red red;
    if (x->dtype == KN_STRING) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "string tensors are not supported");
    KN_TRY(elems_check(c, x, c->in[1], &axis));
    KN_TRY(kn_scatter_reduction(c, &red));
    KN_TRY(elems_offsets(c, x, axis, &n));
    KN_TRY(kn_shape_copy_if_needed(c, y, x));
    if (n == 0) return KN_OK;
    return KN_KCALL(c->k, scatter, x->dtype, red, n, 1, c->ws, c->in[2]->data, y->data);
}

const kn_op_def kn_op_scatter_elements = {
    .name = "ScatterElements", .domain = "",
    .min_inputs = 3, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = scatter_elements_infer, .forward = scatter_elements_forward, .workspace = elems_ws,
};

const kn_op_def kn_op_scatter = {
    .name = "Scatter", .domain = "",
    .min_inputs = 3, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = scatter_elements_infer, .forward = scatter_elements_forward, .workspace = elems_ws,
};
