/* kiln — helpers shared by the shape and data-movement ops (nn/ops/reshape.c,
 * slice.c, concat.c, ...). Internal to nn/ops. */
#ifndef KN_OPS_SHAPE_UTIL_H
#define KN_OPS_SHAPE_UTIL_H

#include "nn/op.h"

/* Read the integer values of input `input` (a scalar or 1-D tensor of any integer dtype,
 * on any device) into out[max]; *count = element count. Errors name the node and input. */
kn_status kn_shape_read_ints(const kn_op_ctx *c, int input, const char *what, int64_t *out, int max,
                             int *count);
/* Integer list from input `input` when present (opset >= from_opset) or from attribute
 * `attr` otherwise; *count = -1 when neither is given. */
kn_status kn_shape_ints_arg(const kn_op_ctx *c, int input, int from_opset, const char *attr, int64_t *out,
                            int max, int *count);
/* Product of dims; false when any dim is KN_DIM_UNKNOWN. */
bool kn_shape_known_numel(int ndim, const int64_t *shape, int64_t *numel);
/* Contiguous element strides of a shape. */
void kn_shape_strides(int ndim, const int64_t *shape, int64_t *strides);
/* gin += gout for tensors with the same element count (float32). */
kn_status kn_shape_accum(const kn_op_ctx *c, kn_tensor *gin, const kn_tensor *gout);
/* out = in when they are not already the same storage (view ops). */
kn_status kn_shape_copy_if_needed(const kn_op_ctx *c, kn_tensor *out, const kn_tensor *in);
/* Copy n bytes of host memory into a tensor on the session's device. */
kn_status kn_shape_upload(const kn_op_ctx *c, kn_tensor *out, const void *host, size_t bytes);
/* "[1,2,3]" for an int list. */
char *kn_ints_str(char *buf, size_t size, int n, const int64_t *v);

#endif
