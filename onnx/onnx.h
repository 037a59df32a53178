/* kiln — ONNX model and TensorProto files: import into a kn_graph, export a
 * kn_graph as a ModelProto. Nothing outside onnx/ sees protobuf.
 *
 * Import accepts IR version >= 3 and ai.onnx opsets 1..19 (g->opset is set from
 * the model; ops follow that opset's semantics) plus kiln-domain nodes.
 * Graphs using other domains, subgraph attributes (If/Loop/Scan bodies),
 * sparse initializers or non-tensor types are refused with KN_ERR_UNSUPPORTED.
 * Every error message names the file and the node/field at fault.
 *
 * Ownership: kn_onnx_load* give the caller a graph to free with kn_graph_free.
 * kn_tensor_load_pb initialises *out (release with kn_tensor_release) and, when
 * name_out is not NULL, stores a malloc'd copy of the tensor's name (free()). */
#ifndef KN_ONNX_H
#define KN_ONNX_H

#include <stdbool.h>
#include <stddef.h>

#include "nn/graph.h"

/* Read a model; external tensor data is resolved relative to the model's directory. */
kn_status kn_onnx_load(const char *path, kn_graph **out);
/* Read a model from memory. base_dir resolves external data (NULL: external data is refused). */
kn_status kn_onnx_load_buffer(const void *buf, size_t len, const char *base_dir, kn_graph **out);

/* Lenient import for `kiln check`: node-level problems (unsupported ops, dangling
 * names, bad attributes) are appended to report, one per line, instead of stopping
 * at the first; the offending nodes are left out of *out. File-level problems
 * (unreadable, not protobuf, bad opset) still fail. *out may be NULL on failure. */
kn_status kn_onnx_load_report(const char *path, kn_graph **out, char *report, size_t report_size,
                              int *n_problems);

typedef struct kn_onnx_export_opts {
    int opset;              /* ai.onnx opset to declare; 0 = g->opset (13 for graphs built in C) */
    const char *batch_name; /* dim_param for unknown dim 0 of inputs/outputs; NULL = "batch" */
} kn_onnx_export_opts;

kn_onnx_export_opts kn_onnx_export_defaults(void);

/* Write g as an ONNX model. Only what g->outputs need is written (a training graph's
 * loss, labels and optimizer state are left out); Dropout is removed,
 * BatchNormalization written in inference form, kiln-domain fused ops written as
 * their standard expansion. opts NULL = defaults. */
kn_status kn_onnx_save(const kn_graph *g, const char *path, const kn_onnx_export_opts *opts);
/* The same into a malloc'd buffer the caller frees. */
kn_status kn_onnx_save_buffer(const kn_graph *g, const kn_onnx_export_opts *opts, void **buf, size_t *len);

/* Single TensorProto files (ONNX test data). */
kn_status kn_tensor_load_pb(const char *path, kn_tensor *out, char **name_out);
kn_status kn_tensor_save_pb(const char *path, const kn_tensor *t, const char *name);

#endif
