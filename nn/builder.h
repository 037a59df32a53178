/* kiln — layer builders: compose a model from C.
 *
 *   int x = kn_input(g, "input", KN_FLOAT, 4, (int64_t[]){KN_DIM_UNKNOWN, 1, 28, 28});
 *   int h = kn_relu(g, kn_linear(g, kn_flatten(g, x), 128, "fc1"));
 *
 * Each builder adds ONNX nodes (and initialised parameters) and returns the id
 * of its output value. On error it returns -1 and records the first error in
 * g->sticky (message in kn_last_error()); any builder given -1 returns -1, so
 * calls compose without checks and kn_graph_status() is asked once at the end.
 * Parameters are initialised from the graph's RNG (kn_graph_seed) the way
 * PyTorch initialises the same layers. */
#ifndef KN_BUILDER_H
#define KN_BUILDER_H

#include "nn/graph.h"

kn_status kn_graph_status(const kn_graph *g);
void kn_graph_seed(kn_graph *g, uint64_t seed);

/* A caller-fed input; KN_DIM_UNKNOWN dims (the batch) are named "batch". */
int kn_input(kn_graph *g, const char *name, kn_dtype dtype, int ndim, const int64_t *shape);
/* Mark a value as a graph output (returns it). */
int kn_output(kn_graph *g, int x);

/* Gemm with transB=1: y = x W^T + b, W [out, in] (PyTorch Linear layout). */
int kn_linear(kn_graph *g, int x, int64_t out_features, const char *name);

typedef struct kn_conv2d_opts {
    int64_t kernel, stride, pad, dilation, groups;
    bool bias;
} kn_conv2d_opts;
kn_conv2d_opts kn_conv2d_defaults(int64_t kernel); /* stride 1, pad 0, dilation 1, groups 1, bias */
int kn_conv2d(kn_graph *g, int x, int64_t out_channels, const kn_conv2d_opts *o, const char *name);
/* BatchNormalization over channels (eps 1e-5, ONNX momentum 0.9 = PyTorch 0.1). */
int kn_batchnorm(kn_graph *g, int x, const char *name);

int kn_relu(kn_graph *g, int x);
int kn_leaky_relu(kn_graph *g, int x, float alpha);
int kn_sigmoid(kn_graph *g, int x);
int kn_tanh(kn_graph *g, int x);
int kn_relu6(kn_graph *g, int x); /* Clip(0, 6) */
int kn_hardswish(kn_graph *g, int x);
int kn_add(kn_graph *g, int a, int b);

int kn_maxpool2d(kn_graph *g, int x, int64_t kernel, int64_t stride, int64_t pad);
int kn_avgpool2d(kn_graph *g, int x, int64_t kernel, int64_t stride, int64_t pad);
int kn_global_avgpool(kn_graph *g, int x);
int kn_flatten(kn_graph *g, int x);
int kn_dropout(kn_graph *g, int x, float ratio);
int kn_softmax(kn_graph *g, int x, int axis);

/* Losses: each sets g->loss to the returned scalar value (mean over the batch). */
int kn_softmax_cross_entropy(kn_graph *g, int logits, int labels); /* int64 labels */
int kn_nll_loss(kn_graph *g, int log_probs, int labels);
int kn_mse_loss(kn_graph *g, int pred, int target);

/* Low level: add a node with one output and return it; set attributes on *node_out, then
 * call kn_node_done(g, y) to infer y's shape (later builders read it). */
int kn_node1(kn_graph *g, const char *op, int n_in, const int *in, int *node_out);
int kn_node_done(kn_graph *g, int y);
/* A parameter initialised U(-bound, bound) (bound 0: zeros). */
int kn_param_uniform(kn_graph *g, const char *name, int ndim, const int64_t *shape, float bound);
int kn_param_fill(kn_graph *g, const char *name, int ndim, const int64_t *shape, float value,
                  kn_value_kind kind);

#endif
