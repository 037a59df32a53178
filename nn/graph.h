/* kiln — the graph IR shared by builders, the ONNX reader/writer, training,
 * the inference passes and the runtime.
 *
 * A graph is two arrays addressed by integer ids: values (tensors flowing
 * between nodes, graph inputs, initializers) and nodes (ONNX op type, domain,
 * attributes, input/output value ids). Ids are stable until kn_graph_compact.
 * Ops carry ONNX names and attribute semantics, so import/export is a mapping.
 *
 * Shapes in values may hold KN_DIM_UNKNOWN (-1) for dims fixed only at run
 * time (the symbolic batch dim); dim_param keeps the symbol's name.
 *
 * Ownership: the graph owns every string, attribute and initializer tensor
 * it holds. kn_graph_free releases them all. */
#ifndef KN_GRAPH_H
#define KN_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/tensor.h"
#include "core/rng.h"

#define KN_DIM_UNKNOWN (-1)
#define KN_NO_VALUE (-1) /* an omitted optional input */

struct kn_op_def;

typedef enum kn_attr_type { /* numbered as ONNX AttributeProto.AttributeType */
    KN_ATTR_UNDEFINED = 0,
    KN_ATTR_FLOAT = 1,
    KN_ATTR_INT = 2,
    KN_ATTR_STRING = 3,
    KN_ATTR_TENSOR = 4,
    KN_ATTR_GRAPH = 5,
    KN_ATTR_FLOATS = 6,
    KN_ATTR_INTS = 7,
    KN_ATTR_STRINGS = 8
} kn_attr_type;

typedef struct kn_attr {
    char *name;
    kn_attr_type type;
    float f;
    int64_t i;
    char *s;
    kn_tensor t;
    int64_t n; /* element count of floats / ints / strings */
    float *floats;
    int64_t *ints;
    char **strings;
} kn_attr;

typedef enum kn_value_kind {
    KN_VALUE_INTERMEDIATE = 0, /* produced by a node */
    KN_VALUE_INPUT,            /* fed by the caller */
    KN_VALUE_PARAM,            /* trainable initializer */
    KN_VALUE_CONST             /* non-trained initializer or state (BN running stats) */
} kn_value_kind;

typedef struct kn_value {
    char *name;
    kn_value_kind kind;
    kn_dtype dtype;                 /* KN_UNDEFINED until known */
    int ndim;                       /* -1 while the rank is unknown */
    int64_t shape[KN_MAX_DIMS];     /* KN_DIM_UNKNOWN where not fixed */
    char *dim_param[KN_MAX_DIMS];   /* symbolic dim names, or NULL */
    kn_tensor data;                 /* initializer contents (PARAM/CONST), else shape-only */
    int producer;                   /* node id or -1 */
} kn_value;

typedef struct kn_node {
    char *name;
    char *op_type;
    char *domain; /* "" for ai.onnx, "kiln" for fused ops */
    const struct kn_op_def *op; /* resolved when the node is added */
    int n_inputs;
    int *inputs; /* KN_NO_VALUE for omitted optional inputs */
    int n_outputs;
    int *outputs;
    int n_attrs;
    kn_attr *attrs;
    bool dead; /* removed by a pass; dropped by kn_graph_compact */
} kn_node;

typedef struct kn_graph {
    char *name;
    kn_value *values;
    int n_values, cap_values;
    kn_node *nodes;
    int n_nodes, cap_nodes;
    int *inputs; /* graph inputs (KN_VALUE_INPUT), in order */
    int n_inputs;
    int *outputs;
    int n_outputs;
    int loss;    /* training loss value id, or -1 */
    int opset;   /* ai.onnx opset the node semantics follow */
    int64_t ir_version;
    char *producer_name, *producer_version, *doc;
    kn_status sticky; /* first builder error; later builder calls do nothing */
    kn_rng rng;       /* parameter initialisation */
    /* name -> value id index (open addressing; rebuilt on demand) */
    int *name_index;
    int name_index_cap;
} kn_graph;

kn_status kn_graph_create(kn_graph **out);
void kn_graph_free(kn_graph *g);
/* Deep copy; initializer tensors SHARE their buffers (refcounted), so a session's copy and
 * the caller's graph see the same parameters. */
kn_status kn_graph_clone(kn_graph **out, const kn_graph *g);
kn_status kn_graph_set_name(kn_graph *g, const char *name);

/* Values. name may be NULL (a unique name is made). Names must be unique. */
kn_status kn_graph_add_value(kn_graph *g, const char *name, kn_dtype dtype, int ndim,
                             const int64_t *shape, int *id);
/* A caller-fed graph input, appended to g->inputs. */
kn_status kn_graph_add_input(kn_graph *g, const char *name, kn_dtype dtype, int ndim,
                             const int64_t *shape, int *id);
/* An initializer: MOVES t into the graph (t is reset to shape-only). */
kn_status kn_graph_add_initializer(kn_graph *g, const char *name, kn_tensor *t,
                                   kn_value_kind kind, int *id);
kn_status kn_graph_add_output(kn_graph *g, int value);
int kn_graph_find_value(const kn_graph *g, const char *name); /* -1 if absent */
/* Rename a value; KN_ERR_INVALID if the name is taken. */
kn_status kn_graph_rename_value(kn_graph *g, int value, const char *name);
kn_status kn_value_set_dim_param(kn_graph *g, int value, int dim, const char *param);

/* Nodes. The op is looked up in the registry: an unknown (domain, op_type) is
 * KN_ERR_UNSUPPORTED naming the op and the node. Outputs get this node as producer;
 * a value with two producers is KN_ERR_INVALID. */
kn_status kn_graph_add_node(kn_graph *g, const char *op_type, const char *domain,
                            const char *name, int n_in, const int *in, int n_out,
                            const int *out, int *node_id);

/* Attributes (set replaces an existing attribute of the same name). */
kn_status kn_node_set_int(kn_graph *g, int node, const char *name, int64_t v);
kn_status kn_node_set_float(kn_graph *g, int node, const char *name, float v);
kn_status kn_node_set_string(kn_graph *g, int node, const char *name, const char *v);
kn_status kn_node_set_ints(kn_graph *g, int node, const char *name, int64_t n, const int64_t *v);
kn_status kn_node_set_floats(kn_graph *g, int node, const char *name, int64_t n, const float *v);
kn_status kn_node_set_strings(kn_graph *g, int node, const char *name, int64_t n, char *const *v);
/* MOVES t into the attribute. */
kn_status kn_node_set_tensor(kn_graph *g, int node, const char *name, kn_tensor *t);
kn_status kn_node_remove_attr(kn_graph *g, int node, const char *name);

/* Attribute getters: an absent attribute gives the default; one of the wrong type is
 * KN_ERR_INVALID naming node, op and attribute. */
const kn_attr *kn_node_attr(const kn_node *n, const char *name);
kn_status kn_attr_int(const kn_node *n, const char *name, int64_t def, int64_t *out);
kn_status kn_attr_float(const kn_node *n, const char *name, float def, float *out);
kn_status kn_attr_string(const kn_node *n, const char *name, const char *def, const char **out);
/* Copies up to max ints; *count = -1 when absent, else the attribute's length
 * (KN_ERR_INVALID if it exceeds max). */
kn_status kn_attr_ints(const kn_node *n, const char *name, int64_t *out, int max, int *count);
kn_status kn_attr_floats(const kn_node *n, const char *name, float *out, int max, int *count);
/* Require an attribute be present. */
kn_status kn_attr_require(const kn_node *n, const char *name, kn_attr_type type,
                          const kn_attr **out);

/* Consumers of a value: fills up to max node ids, returns the total count. */
int kn_graph_consumers(const kn_graph *g, int value, int *nodes, int max);
bool kn_graph_is_output(const kn_graph *g, int value);
/* Topological order of live nodes into order[] (n_nodes entries); cycles and dangling
 * inputs are KN_ERR_INVALID naming a node on the cycle / the missing value. */
kn_status kn_graph_topo_order(const kn_graph *g, int *order, int *count);
/* Drop dead nodes and values nothing references; renumbers ids. */
kn_status kn_graph_compact(kn_graph *g);
/* Static shape/dtype inference through every op's infer (unknown dims stay unknown). */
kn_status kn_graph_infer_shapes(kn_graph *g);
/* Structural validation: every problem found is appended to report (may be NULL), one per
 * line; returns the first error. */
kn_status kn_graph_validate(kn_graph *g, char *report, size_t report_size, int *n_problems);

/* Error helper: "node 'name' (Op): " prefix for the current message. */
kn_status kn_node_error(const kn_node *n, kn_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Count of trainable parameters and their bytes. */
void kn_graph_param_stats(const kn_graph *g, int64_t *count, int64_t *bytes);

#endif
