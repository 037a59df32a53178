/* kiln — inference graph passes (DESIGN.md "Inference optimizer levels").
 *
 *   level 0: as imported
 *   level 1: fold_constants, remove_identity (Identity, inference Dropout),
 *            matmul_add_to_gemm, remove_dead
 *   level 2: level 1 + fold_batchnorm (into Conv/Gemm), fuse_residual
 *            (Conv + Add -> kiln.FusedConv with Z), fuse_hardswish (x * HardSigmoid(x)
 *            -> HardSwish), fuse_activation (Conv/Gemm +
 *            Relu/LeakyRelu/Clip/Sigmoid/HardSwish/Tanh -> kiln.Fused*),
 *            fuse_pool (Conv/FusedConv + unpadded 2-D MaxPool -> FusedConv with a pooling
 *            epilogue), fuse_side_conv (a 1x1 Conv of the same input with the same strides
 *            -> the side output of a FusedConv: ResNet's projection shortcut),
 *            pretranspose_gemm (constant Gemm weights stored as B, not B^T); the
 *            session adds memory planning at level 2.
 *
 * Each pass matches only when it is safe: the intermediate it removes has no
 * other consumer and is not a graph output, parameters are constant, attributes
 * are in the supported form. Passes never modify initializer buffers in place
 * (they may be shared with a training graph); folded weights are new tensors.
 * A fused node's name lists what it absorbed ("conv1+bn1+relu1"). */
#ifndef KN_PASSES_H
#define KN_PASSES_H

#include "nn/graph.h"

#define KN_MAX_PASSES 16

typedef struct kn_pass_result {
    const char *name;
    int changes;
    double seconds;
} kn_pass_result;

typedef struct kn_pass_report {
    int n;
    kn_pass_result passes[KN_MAX_PASSES];
    int nodes_before, nodes_after;
} kn_pass_report;

/* Run the passes of `level` (0..2). `disabled` is a comma-separated list of pass names to
 * skip (NULL: none; env KILN_DISABLE_PASSES adds to it). report may be NULL. */
kn_status kn_graph_optimize(kn_graph *g, int level, const char *disabled, kn_pass_report *report);

/* The pipeline in run order, for tools that check pass names: kn_pass_name(i, &level) for
 * i in [0, kn_pass_count()), NULL outside; level (may be NULL) is the lowest level running it. */
int kn_pass_count(void);
const char *kn_pass_name(int i, int *level);

/* The passes, each counting what it changed. */
kn_status kn_pass_fold_constants(kn_graph *g, int *changes);
kn_status kn_pass_remove_identity(kn_graph *g, int *changes);
kn_status kn_pass_matmul_add_to_gemm(kn_graph *g, int *changes);
kn_status kn_pass_remove_dead(kn_graph *g, int *changes);
kn_status kn_pass_fold_batchnorm(kn_graph *g, int *changes);
kn_status kn_pass_fuse_residual(kn_graph *g, int *changes);
kn_status kn_pass_fuse_hardswish(kn_graph *g, int *changes);
kn_status kn_pass_fuse_activation(kn_graph *g, int *changes);
kn_status kn_pass_pretranspose_gemm(kn_graph *g, int *changes);
kn_status kn_pass_fuse_pool(kn_graph *g, int *changes);
kn_status kn_pass_fuse_side_conv(kn_graph *g, int *changes);

/* Shared helpers (nn/passes/util.c). */
/* The only live consumer node of value v, or -1 when it has none or several. */
int kn_pass_single_consumer(const kn_graph *g, int v);
bool kn_pass_is_const(const kn_graph *g, int v);
/* Same rank and dims as statically inferred (an unknown dim matches only an unknown one). */
bool kn_pass_same_static_shape(const kn_value *a, const kn_value *b);
/* Replace every use of value `from` by `to` in live nodes. */
void kn_pass_replace_uses(kn_graph *g, int from, int to);
/* Make node `n`'s output slot `slot` write value `v` instead (v must have no producer). */
void kn_pass_retarget_output(kn_graph *g, int n, int slot, int v);
/* Node n takes over the (single) output of `consumer`, which dies, and adds its name. */
kn_status kn_pass_absorb_consumer(kn_graph *g, int n, int consumer);
/* Append "+suffix" to a node's name (records absorbed nodes for the profiler). */
kn_status kn_pass_absorb_name(kn_graph *g, int n, const char *absorbed);
/* Turn a node into another op (same inputs/outputs); looks the op up in the registry. */
kn_status kn_pass_set_op(kn_graph *g, int n, const char *domain, const char *op_type);
/* Add a new float initializer (moves t). */
kn_status kn_pass_add_const(kn_graph *g, const char *base_name, kn_tensor *t, int *id);

#endif
