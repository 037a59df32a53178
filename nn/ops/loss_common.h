/* Shared attribute parsing and shape inference of the two classification
 * losses (softmax_xent.c, nll_loss.c). Internal to nn/ops. */
#ifndef KN_LOSS_COMMON_H
#define KN_LOSS_COMMON_H

#include "nn/op.h"

#define KN_LOSS_NO_IGNORE INT64_MIN /* no ignore_index attribute: no label equals this */

typedef struct kn_loss_cfg {
    int reduction; /* 0 none, 1 sum, 2 mean (the kernels' numbering) */
    int64_t ignore_index;
} kn_loss_cfg;

kn_status kn_loss_config(const kn_op_ctx *c, kn_loss_cfg *cfg);
/* Output 0: the loss ([N, D...] for reduction none, else a scalar); an output 1, when
 * present, has the input's shape (log_prob). `input`/`target` name the operands in errors. */
kn_status kn_loss_infer(kn_op_ctx *c, const char *input, const char *target);
/* n, classes and the product of the trailing dims of input [N, C, D...]. */
void kn_loss_geometry(const kn_tensor *x, int64_t *n, int64_t *ch, int64_t *inner);

/* int32 targets are widened to the kernels' int64 in the workspace: its size, and the
 * int64 view of input 1 (the input itself when already int64). */
size_t kn_loss_workspace(kn_op_ctx *c);
kn_status kn_loss_labels(kn_op_ctx *c, const int64_t **labels);

#endif
