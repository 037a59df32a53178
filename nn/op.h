/* kiln — the op interface. One op = one file in nn/ops/ defining a kn_op_def,
 * listed once in nn/ops/ops.def (the single registry).
 *
 * infer:    from input dtypes/shapes (and, for inputs in infer_data, their
 *           values) set each output's dtype, ndim and shape. Called both
 *           statically (dims may be KN_DIM_UNKNOWN: propagate them, never
 *           pass them to kn_shape_numel) and at run time with concrete shapes.
 *           Ranks are always known and infer_data inputs always have data
 *           (the driver skips the node otherwise). Validate here: wrong ranks,
 *           dtypes, attribute values are errors naming the node (kn_node_error).
 *           Outputs arrive zeroed; an optional output the node does not
 *           produce may be left with dtype KN_UNDEFINED.
 * forward:  outputs are allocated by the session with the inferred shapes.
 * backward: accumulate into gin[i] (non-NULL only where a gradient is
 *           needed) from gout[j] (NULL where no gradient flows back).
 * state:    tensors a node keeps between forward and backward (BN saved
 *           statistics, pooling argmax, dropout mask) or across runs
 *           (prepacked weights). The op allocates them, the session releases. */
#ifndef KN_OP_H
#define KN_OP_H

#include "core/kernels.h"
#include "nn/graph.h"

#define KN_OP_MAX_STATE 4

typedef struct kn_op_ctx {
    const kn_graph *graph;
    const kn_node *node;
    int opset;
    bool training;
    const kn_kernels *k;
    kn_device device;
    int n_in;
    kn_tensor *const *in; /* NULL for an omitted optional input */
    int n_out;
    kn_tensor *const *out;
    kn_tensor *const *gout; /* backward only */
    kn_tensor *const *gin;  /* backward only */
    kn_tensor *state;       /* KN_OP_MAX_STATE tensors, persistent per node */
    void *ws;               /* scratch of workspace() bytes, forward and backward */
    size_t ws_bytes;
    kn_rng *rng;            /* session RNG (Dropout in training) */
    const bool *gin_fresh;  /* backward, ops flagged KN_OP_BWD_OVERWRITE: gin[j]'s buffer is
                             * not zeroed yet this step, and the op must overwrite all of it */
    bool prepack;           /* inference at level 2: constant weights may be packed once into
                             * state for the kernel's layout (weights are fixed at creation) */
    struct kn_group *group; /* replicas splitting this batch (nn/split.h), or NULL */
    int rank;               /* this replica's index in group */
} kn_op_ctx;

enum {
    KN_OP_META_ONLY = 1u << 0,     /* forward reads input shapes only (Shape, Size) */
    KN_OP_NONDETERMINISTIC = 1u << 1, /* never constant-folded (random ops) */
    KN_OP_VIEW = 1u << 2,          /* output 0 may alias input 0's buffer (Reshape, Flatten...) */
    KN_OP_BWD_OVERWRITE = 1u << 3  /* backward honours gin_fresh: the first gradient into a
                                    * buffer is written, not added to zeros (saves a memset
                                    * and a read of the buffer per step) */
};

typedef struct kn_op_def {
    const char *name;   /* ONNX op_type */
    const char *domain; /* "" = ai.onnx */
    unsigned flags;
    unsigned infer_data; /* bit i: infer reads the VALUES of input i (Reshape's shape, ...) */
    int min_inputs, max_inputs; /* arity check done by the graph */
    int min_outputs, max_outputs;
    kn_status (*infer)(kn_op_ctx *c);
    kn_status (*forward)(kn_op_ctx *c);
    kn_status (*backward)(kn_op_ctx *c); /* NULL: not differentiable */
    size_t (*workspace)(kn_op_ctx *c);   /* NULL: none */
} kn_op_def;

/* Node execution helpers shared by the session, static inference and the
 * optimizer (nn/exec.c). kn_node_infer wraps op->infer with arity checks;
 * kn_node_eval runs a node on the CPU in inference mode, allocating outs[]
 * (n_outputs tensors the caller releases). */
kn_status kn_node_infer(const kn_graph *g, const kn_node *n, kn_tensor *const *in,
                        kn_tensor *const *out);
kn_status kn_node_eval(const kn_graph *g, const kn_node *n, kn_tensor *const *in, kn_tensor *outs);
/* kn_graph_infer_shapes that carries on past failing nodes (their outputs stay unknown),
 * appending each error to report as a line and adding to *n_problems; returns the first
 * error. Used by kn_graph_validate. */
kn_status kn_graph_infer_collect(kn_graph *g, char *report, size_t report_size, int *n_problems);

/* Registry lookup; domain NULL, "" and "ai.onnx" are the default domain. */
const kn_op_def *kn_op_find(const char *domain, const char *op_type);
/* Iterate every registered op (for docs, `kiln ops`). */
int kn_op_count(void);
const kn_op_def *kn_op_at(int i);

/* Helpers for op implementations. */
#define KN_IN(c, i) ((c)->n_in > (i) ? (c)->in[i] : NULL)
kn_status kn_op_expect_dtype(const kn_op_ctx *c, int input, kn_dtype dtype);
kn_status kn_op_expect_rank(const kn_op_ctx *c, int input, int ndim);
/* Set output o's dtype and shape. */
void kn_op_set_out(kn_op_ctx *c, int o, kn_dtype dtype, int ndim, const int64_t *shape);
/* numpy broadcast of two shapes for inference; KN_DIM_UNKNOWN dims stay unknown unless
 * the other side fixes them. Error names the node and both shapes. */
kn_status kn_op_broadcast(const kn_op_ctx *c, int na, const int64_t *sa, int nb, const int64_t *sb,
                          int *nout, int64_t *out);
/* Fused activation of a kiln-domain fused node (attributes `activation`, one of
 * Relu|LeakyRelu|Clip|Sigmoid|HardSwish|Tanh, and `activation_params` floats);
 * absent = KN_ACT_NONE. Defined in nn/ops/gemm.c, shared by FusedConv. */
kn_status kn_fused_activation(const kn_node *n, kn_act *act, float *alpha, float *beta);
/* Operand b's shape as numpy broadcasting should see it. From opset 7 that is b's own
 * shape. Before opset 7, binary ops broadcast only with attribute broadcast=1, aligning b
 * with a at `axis` (default: trailing), so b is padded with 1s on the right; with
 * broadcast=0 the shapes must be equal. */
kn_status kn_op_legacy_bshape(const kn_op_ctx *c, const kn_tensor *a, const kn_tensor *b, int *nb,
                              int64_t *bshape);
/* Softmax-family axis folding (Softmax, LogSoftmax, Hardmax): before opset 13 the input is
 * coerced to 2-D at `axis` (default 1), from 13 one axis (default -1); either way the
 * shape becomes [outer, dim, inner]. The infer validates that and keeps the shape. */
kn_status kn_op_softmax_geometry(const kn_op_ctx *c, const kn_tensor *x, int64_t *outer, int64_t *dim,
                                 int64_t *inner);
kn_status kn_op_softmax_infer(kn_op_ctx *c);
/* Normalise an axis in [-r, r) to [0, r); error naming the node otherwise. */
kn_status kn_op_axis(const kn_op_ctx *c, int64_t axis, int rank, int *out);

#endif
