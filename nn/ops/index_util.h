/* kiln — index handling shared by the ops of the second batch (GatherElements,
 * ScatterElements, GatherND, ScatterND, OneHot, Compress, ...). Internal to
 * nn/ops. Indices are read to the host (from any device), validated there, and
 * the derived int64 offsets uploaded into the node's workspace. */
#ifndef KN_OPS_INDEX_UTIL_H
#define KN_OPS_INDEX_UTIL_H

#include "nn/op.h"

/* All values of integer (or float, truncated) input `input` as int64 in a malloc'd host array the caller
 * frees (*out may be NULL when the tensor is empty). */
kn_status kn_index_read(const kn_op_ctx *c, int input, int64_t **out, int64_t *count);
/* Copy n int64 host values into the workspace (the session's device). */
kn_status kn_index_upload(const kn_op_ctx *c, const int64_t *host, int64_t n);
/* Check v against [-dim, dim) and make it non-negative; the error names the node, what,
 * the value and its position. */
kn_status kn_index_norm(const kn_op_ctx *c, const char *what, int64_t pos, int64_t dim, int64_t *v);

#endif
