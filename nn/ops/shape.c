/* Shape (ONNX 1-21): the input's dims as a 1-D int64 tensor, from opset 15
 * restricted to dims [start, end) (negative values count from the end, both
 * clamped to [0, rank]). Reads shapes only. */
#include "nn/ops/shape_util.h"

static kn_status shape_range(const kn_op_ctx *c, int r, int *s, int *e)
{
    int64_t start = 0, end = r;
    if (c->opset >= 15) {
        KN_TRY(kn_attr_int(c->node, "start", 0, &start));
        KN_TRY(kn_attr_int(c->node, "end", r, &end));
    }
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = start < 0 ? 0 : (start > r ? r : start);
    end = end < 0 ? 0 : (end > r ? r : end);
    *s = (int)start;
    *e = end > start ? (int)end : (int)start;
    return KN_OK;
}

static kn_status shape_infer(kn_op_ctx *c)
{
    int s, e;
    KN_TRY(shape_range(c, c->in[0]->ndim, &s, &e));
    int64_t n = e - s;
    kn_op_set_out(c, 0, KN_INT64, 1, &n);
    return KN_OK;
}

static kn_status shape_forward(kn_op_ctx *c)
{
    const kn_tensor *x = c->in[0];
    int s, e;
    KN_TRY(shape_range(c, x->ndim, &s, &e));
    return kn_shape_upload(c, c->out[0], x->shape + s, sizeof(int64_t) * (size_t)(e - s));
}

const kn_op_def kn_op_shape = {
    .name = "Shape", .domain = "", .flags = KN_OP_META_ONLY,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = shape_infer, .forward = shape_forward,
};
