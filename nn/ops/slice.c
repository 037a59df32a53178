/* Slice (ONNX 1-21). Opset 1-9: attributes starts, ends, axes. Opset 10+:
 * inputs starts (1), ends (2), optional axes (3) and steps (4), steps may be
 * negative. Per axis of size d: negative starts/ends count from the end, then
 * they are clamped to [0, d] (step > 0) or start to [0, d-1] and end to
 * [-1, d-1] (step < 0), and the output takes ceil((end - start) / step)
 * elements (at least 0). The slice is one strided copy (x pointer offset to
 * the first element, x strides scaled by the steps); the backward adds gy
 * back through the same strides. */
#include "nn/ops/shape_util.h"

#include <stdint.h>

typedef struct slice_plan {
    int64_t start[KN_MAX_DIMS], step[KN_MAX_DIMS], count[KN_MAX_DIMS];
} slice_plan;

static kn_status read_args(const kn_op_ctx *c, const char *name, int input, int64_t *v, int *n)
{
    if (c->opset < 10) return kn_attr_ints(c->node, name, v, KN_MAX_DIMS, n);
    if (!KN_IN(c, input)) {
        *n = -1;
        return KN_OK;
    }
    return kn_shape_read_ints(c, input, name, v, KN_MAX_DIMS, n);
}

static kn_status make_plan(const kn_op_ctx *c, const kn_tensor *x, slice_plan *p)
{
    int64_t starts[KN_MAX_DIMS], ends[KN_MAX_DIMS], axes[KN_MAX_DIMS], steps[KN_MAX_DIMS];
    int ns, ne, na, nst;
    char a[160], b[160];
    if (c->opset < 10 && c->n_in > 1)
        return kn_node_error(c->node, KN_ERR_INVALID, "takes 1 input at opset %d (starts/ends are attributes), got %d",
                             c->opset, c->n_in);
    if (c->opset >= 10 && (!KN_IN(c, 1) || !KN_IN(c, 2)))
        return kn_node_error(c->node, KN_ERR_INVALID, "inputs 1 (starts) and 2 (ends) are required");
    KN_TRY(read_args(c, "starts", 1, starts, &ns));
    KN_TRY(read_args(c, "ends", 2, ends, &ne));
    KN_TRY(read_args(c, "axes", 3, axes, &na));
    nst = -1;
    if (c->opset >= 10) KN_TRY(read_args(c, "steps", 4, steps, &nst));
    if (ns < 0 || ne < 0) return kn_node_error(c->node, KN_ERR_INVALID, "starts and ends are required");
    if (ns != ne || (na >= 0 && na != ns) || (nst >= 0 && nst != ns))
        return kn_node_error(c->node, KN_ERR_INVALID, "starts %s, ends %s, axes (%d) and steps (%d) differ in length",
                             kn_ints_str(a, sizeof a, ns, starts), kn_ints_str(b, sizeof b, ne, ends), na, nst);
    for (int d = 0; d < x->ndim; d++) {
        p->start[d] = 0;
        p->step[d] = 1;
        p->count[d] = x->shape[d];
    }
    bool seen[KN_MAX_DIMS] = {false};
    for (int i = 0; i < ns; i++) {
        int ax;
        KN_TRY(kn_op_axis(c, na >= 0 ? axes[i] : i, x->ndim, &ax));
        if (seen[ax])
            return kn_node_error(c->node, KN_ERR_INVALID, "axes %s repeat axis %d", kn_ints_str(a, sizeof a, na, axes), ax);
        seen[ax] = true;
        int64_t st = nst >= 0 ? steps[i] : 1, d = x->shape[ax], s = starts[i], e = ends[i];
        if (st == 0) return kn_node_error(c->node, KN_ERR_INVALID, "step of axis %d is 0", ax);
        if (st == INT64_MIN) st = -INT64_MAX; /* same slice, and -st stays representable */
        p->step[ax] = st;
        if (d == KN_DIM_UNKNOWN) {
            p->count[ax] = KN_DIM_UNKNOWN;
            continue;
        }
        if (s < 0) s += d;
        if (e < 0) e += d;
        if (st > 0) {
            s = s < 0 ? 0 : (s > d ? d : s);
            e = e < 0 ? 0 : (e > d ? d : e);
            p->count[ax] = e > s ? (e - s - 1) / st + 1 : 0; /* no overflow for huge steps */
        } else {
            s = s < 0 ? 0 : (s > d - 1 ? d - 1 : s);
            e = e < -1 ? -1 : (e > d - 1 ? d - 1 : e);
            p->count[ax] = s > e ? (s - e - 1) / (-st) + 1 : 0;
        }
        p->start[ax] = p->count[ax] > 0 ? s : 0;
        if (p->count[ax] <= 1) p->step[ax] = 1; /* one element: the step is moot (and may be huge) */
    }
    return KN_OK;
}

static kn_status slice_infer(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    slice_plan p;
    KN_TRY(make_plan(c, x, &p));
    kn_op_set_out(c, 0, x->dtype, x->ndim, p.count);
    return KN_OK;
}

/* Offset of the first element and the x strides of the slice. */
static int64_t slice_strides(const kn_tensor *x, const slice_plan *p, int64_t *xs)
{
    int64_t off = 0;
    kn_shape_strides(x->ndim, x->shape, xs);
    for (int d = 0; d < x->ndim; d++) {
        off += p->start[d] * xs[d];
        xs[d] *= p->step[d];
    }
    return off;
}

static kn_status slice_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    kn_tensor *y = c->out[0];
    slice_plan p;
    int64_t xs[KN_MAX_DIMS], ys[KN_MAX_DIMS];
    if (x->dtype == KN_STRING) return kn_node_error(c->node, KN_ERR_UNSUPPORTED, "string tensors are not supported");
    if (kn_tensor_numel(y) == 0) return KN_OK;
    KN_TRY(make_plan(c, x, &p));
    int64_t off = slice_strides(x, &p, xs);
    kn_shape_strides(y->ndim, y->shape, ys);
    size_t es = kn_dtype_size(x->dtype);
    return KN_KCALL(c->k, copy_strided, es, x->ndim, y->shape, (const char *)x->data + (size_t)off * es, xs, y->data, ys);
}

static kn_status slice_backward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0], *gy = c->gout[0];
    if (!gy || !c->gin[0] || kn_tensor_numel(gy) == 0) return KN_OK;
    slice_plan p;
    int64_t xs[KN_MAX_DIMS], ys[KN_MAX_DIMS];
    KN_TRY(make_plan(c, x, &p));
    int64_t off = slice_strides(x, &p, xs);
    kn_shape_strides(gy->ndim, gy->shape, ys);
    return KN_KCALL(c->k, add_strided, gy->ndim, gy->shape, gy->data, ys, (float *)c->gin[0]->data + off, xs);
}

const kn_op_def kn_op_slice = {
    .name = "Slice", .domain = "", .infer_data = 0xfu << 1,
    .min_inputs = 1, .max_inputs = 5, .min_outputs = 1, .max_outputs = 1,
    .infer = slice_infer, .forward = slice_forward, .backward = slice_backward,
};
