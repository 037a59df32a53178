#include "nn/graph.h"
#include "nn/op.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dupstr(const char *s) { return s ? strdup(s) : NULL; }

kn_status kn_graph_create(kn_graph **out)
{
    kn_graph *g = calloc(1, sizeof *g);
    if (!g) return kn_error(KN_ERR_NOMEM, "out of memory creating a graph");
    g->loss = -1;
    g->opset = 13;
    g->ir_version = 7;
    kn_rng_seed(&g->rng, 42);
    *out = g;
    return KN_OK;
}

static void attr_free(kn_attr *a)
{
    free(a->name);
    free(a->s);
    kn_tensor_release(&a->t);
    free(a->floats);
    free(a->ints);
    if (a->strings)
        for (int64_t i = 0; i < a->n; i++) free(a->strings[i]);
    free(a->strings);
    memset(a, 0, sizeof *a);
}

static void node_free(kn_node *n)
{
    free(n->name);
    free(n->op_type);
    free(n->domain);
    free(n->inputs);
    free(n->outputs);
    for (int i = 0; i < n->n_attrs; i++) attr_free(&n->attrs[i]);
    free(n->attrs);
    memset(n, 0, sizeof *n);
}

static void value_free(kn_value *v)
{
    free(v->name);
    for (int i = 0; i < KN_MAX_DIMS; i++) free(v->dim_param[i]);
    kn_tensor_release(&v->data);
    memset(v, 0, sizeof *v);
}

void kn_graph_free(kn_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++) node_free(&g->nodes[i]);
    for (int i = 0; i < g->n_values; i++) value_free(&g->values[i]);
    free(g->nodes);
    free(g->values);
    free(g->inputs);
    free(g->outputs);
    free(g->name);
    free(g->producer_name);
    free(g->producer_version);
    free(g->doc);
    free(g->name_index);
    free(g);
}

kn_status kn_graph_set_name(kn_graph *g, const char *name)
{
    char *s = dupstr(name);
    if (name && !s) return kn_error(KN_ERR_NOMEM, "out of memory");
    free(g->name);
    g->name = s;
    return KN_OK;
}

/* ---- name index: open addressing over value ids ---- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static kn_status index_rebuild(kn_graph *g, int need)
{
    int cap = 64;
    while (cap < need * 2) cap *= 2;
    int *idx = malloc(sizeof(int) * (size_t)cap);
    if (!idx) return kn_error(KN_ERR_NOMEM, "out of memory indexing value names");
    for (int i = 0; i < cap; i++) idx[i] = -1;
    for (int v = 0; v < g->n_values; v++) {
        uint64_t h = hash_str(g->values[v].name) & (uint64_t)(cap - 1);
        while (idx[h] >= 0) h = (h + 1) & (uint64_t)(cap - 1);
        idx[h] = v;
    }
    free(g->name_index);
    g->name_index = idx;
    g->name_index_cap = cap;
    return KN_OK;
}

int kn_graph_find_value(const kn_graph *g, const char *name)
{
    if (!name) return -1;
    if (!g->name_index || g->name_index_cap < g->n_values * 2) {
        /* the index is a cache: rebuilding it does not change the graph */
        if (index_rebuild((kn_graph *)g, g->n_values + 1) != KN_OK) {
            for (int v = 0; v < g->n_values; v++)
                if (!strcmp(g->values[v].name, name)) return v;
            return -1;
        }
    }
    uint64_t mask = (uint64_t)(g->name_index_cap - 1), h = hash_str(name) & mask;
    while (g->name_index[h] >= 0) {
        int v = g->name_index[h];
        if (v < g->n_values && !strcmp(g->values[v].name, name)) return v;
        h = (h + 1) & mask;
    }
    return -1;
}

static void index_insert(kn_graph *g, int v)
{
    if (!g->name_index || g->name_index_cap < (g->n_values + 1) * 2) {
        free(g->name_index);
        g->name_index = NULL; /* rebuilt lazily */
        g->name_index_cap = 0;
        return;
    }
    uint64_t mask = (uint64_t)(g->name_index_cap - 1), h = hash_str(g->values[v].name) & mask;
    while (g->name_index[h] >= 0) h = (h + 1) & mask;
    g->name_index[h] = v;
}

/* ---- values ---- */

kn_status kn_graph_add_value(kn_graph *g, const char *name, kn_dtype dtype, int ndim,
                             const int64_t *shape, int *id)
{
    char auto_name[64];
    if (ndim > KN_MAX_DIMS)
        return kn_error(KN_ERR_SHAPE, "value '%s': rank %d exceeds %d", name ? name : "?", ndim, KN_MAX_DIMS);
    if (!name || !*name) {
        int k = g->n_values;
        do snprintf(auto_name, sizeof auto_name, "v%d", k++);
        while (kn_graph_find_value(g, auto_name) >= 0);
        name = auto_name;
    } else if (kn_graph_find_value(g, name) >= 0) {
        return kn_error(KN_ERR_INVALID, "value name '%s' is defined twice", name);
    }
    if (g->n_values == g->cap_values) {
        int cap = g->cap_values ? g->cap_values * 2 : 64;
        kn_value *nv = realloc(g->values, sizeof *nv * (size_t)cap);
        if (!nv) return kn_error(KN_ERR_NOMEM, "out of memory adding value '%s'", name);
        g->values = nv;
        g->cap_values = cap;
    }
    kn_value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = strdup(name);
    if (!v->name) return kn_error(KN_ERR_NOMEM, "out of memory");
    v->dtype = dtype;
    v->ndim = ndim;
    v->producer = -1;
    for (int i = 0; i < KN_MAX_DIMS; i++) v->shape[i] = KN_DIM_UNKNOWN;
    for (int i = 0; i < ndim && shape; i++) v->shape[i] = shape[i];
    v->data.dtype = dtype;
    v->data.ndim = ndim < 0 ? 0 : ndim;
    index_insert(g, g->n_values);
    *id = g->n_values++;
    return KN_OK;
}

static kn_status push_id(int **arr, int *n, int v)
{
    int *na = realloc(*arr, sizeof(int) * (size_t)(*n + 1));
    if (!na) return kn_error(KN_ERR_NOMEM, "out of memory");
    na[(*n)++] = v;
    *arr = na;
    return KN_OK;
}

kn_status kn_graph_add_input(kn_graph *g, const char *name, kn_dtype dtype, int ndim,
                             const int64_t *shape, int *id)
{
    int v;
    KN_TRY(kn_graph_add_value(g, name, dtype, ndim, shape, &v));
    g->values[v].kind = KN_VALUE_INPUT;
    KN_TRY(push_id(&g->inputs, &g->n_inputs, v));
    if (id) *id = v;
    return KN_OK;
}

kn_status kn_graph_add_initializer(kn_graph *g, const char *name, kn_tensor *t,
                                   kn_value_kind kind, int *id)
{
    int v;
    KN_TRY(kn_graph_add_value(g, name, t->dtype, t->ndim, t->shape, &v));
    g->values[v].kind = kind;
    g->values[v].data = *t;
    kn_tensor_meta(t, t->dtype, t->ndim, t->shape);
    if (id) *id = v;
    return KN_OK;
}

kn_status kn_graph_add_output(kn_graph *g, int value)
{
    if (value < 0 || value >= g->n_values)
        return kn_error(KN_ERR_INVALID, "graph output refers to value id %d that does not exist", value);
    return push_id(&g->outputs, &g->n_outputs, value);
}

kn_status kn_graph_rename_value(kn_graph *g, int value, const char *name)
{
    if (value < 0 || value >= g->n_values || !name || !*name)
        return kn_error(KN_ERR_INVALID, "rename: no value %d or empty name", value);
    int other = kn_graph_find_value(g, name);
    if (other == value) return KN_OK;
    if (other >= 0) return kn_error(KN_ERR_INVALID, "rename: value name '%s' is already used", name);
    char *s = strdup(name);
    if (!s) return kn_error(KN_ERR_NOMEM, "out of memory");
    free(g->values[value].name);
    g->values[value].name = s;
    free(g->name_index); /* rebuilt on the next lookup */
    g->name_index = NULL;
    g->name_index_cap = 0;
    return KN_OK;
}

kn_status kn_value_set_dim_param(kn_graph *g, int value, int dim, const char *param)
{
    if (value < 0 || value >= g->n_values || dim < 0 || dim >= KN_MAX_DIMS)
        return kn_error(KN_ERR_INVALID, "dim_param for value %d dim %d is out of range", value, dim);
    char *s = dupstr(param);
    if (param && !s) return kn_error(KN_ERR_NOMEM, "out of memory");
    free(g->values[value].dim_param[dim]);
    g->values[value].dim_param[dim] = s;
    return KN_OK;
}

/* ---- nodes ---- */

kn_status kn_node_error(const kn_node *n, kn_status st, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kn_error(st, "node '%s' (%s): %s", n->name ? n->name : "?", n->op_type ? n->op_type : "?", msg);
}

kn_status kn_graph_add_node(kn_graph *g, const char *op_type, const char *domain,
                            const char *name, int n_in, const int *in, int n_out,
                            const int *out, int *node_id)
{
    char auto_name[64];
    if (!op_type || !*op_type) return kn_error(KN_ERR_INVALID, "node '%s' has no op_type", name ? name : "?");
    if (!name || !*name) {
        snprintf(auto_name, sizeof auto_name, "%s_%d", op_type, g->n_nodes);
        name = auto_name;
    }
    const kn_op_def *op = kn_op_find(domain, op_type);
    if (!op)
        return kn_error(KN_ERR_UNSUPPORTED, "node '%s': op '%s'%s%s%s is not supported by kiln", name,
                        op_type, domain && *domain ? " in domain '" : "", domain && *domain ? domain : "",
                        domain && *domain ? "'" : "");
    if (n_in < op->min_inputs || (op->max_inputs >= 0 && n_in > op->max_inputs))
        return kn_error(KN_ERR_INVALID, "node '%s' (%s): %d inputs, expected %d..%d", name, op_type, n_in,
                        op->min_inputs, op->max_inputs);
    if (n_out < op->min_outputs || (op->max_outputs >= 0 && n_out > op->max_outputs))
        return kn_error(KN_ERR_INVALID, "node '%s' (%s): %d outputs, expected %d..%d", name, op_type, n_out,
                        op->min_outputs, op->max_outputs);
    for (int i = 0; i < n_in; i++) {
        if (in[i] < KN_NO_VALUE || in[i] >= g->n_values)
            return kn_error(KN_ERR_INVALID, "node '%s' (%s): input %d refers to no value", name, op_type, i);
        if (in[i] == KN_NO_VALUE && i < op->min_inputs) /* ONNX's "" stands only for optional inputs */
            return kn_error(KN_ERR_INVALID, "node '%s' (%s): input %d is required but empty", name, op_type, i);
    }
    for (int i = 0; i < n_out; i++) {
        if (out[i] < 0 || out[i] >= g->n_values)
            return kn_error(KN_ERR_INVALID, "node '%s' (%s): output %d refers to no value", name, op_type, i);
        const kn_value *v = &g->values[out[i]];
        if (v->producer >= 0 || v->kind != KN_VALUE_INTERMEDIATE)
            return kn_error(KN_ERR_INVALID, "node '%s' (%s): output '%s' is already produced elsewhere", name,
                            op_type, v->name);
    }
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? g->cap_nodes * 2 : 32;
        kn_node *nn = realloc(g->nodes, sizeof *nn * (size_t)cap);
        if (!nn) return kn_error(KN_ERR_NOMEM, "out of memory adding node '%s'", name);
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    kn_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->name = strdup(name);
    n->op_type = strdup(op_type);
    n->domain = strdup(domain && strcmp(domain, "ai.onnx") ? domain : "");
    n->inputs = malloc(sizeof(int) * (size_t)(n_in ? n_in : 1));
    n->outputs = malloc(sizeof(int) * (size_t)(n_out ? n_out : 1));
    if (!n->name || !n->op_type || !n->domain || !n->inputs || !n->outputs) {
        node_free(n);
        return kn_error(KN_ERR_NOMEM, "out of memory adding node '%s'", name);
    }
    n->op = op;
    n->n_inputs = n_in;
    n->n_outputs = n_out;
    if (n_in) memcpy(n->inputs, in, sizeof(int) * (size_t)n_in);
    if (n_out) memcpy(n->outputs, out, sizeof(int) * (size_t)n_out);
    for (int i = 0; i < n_out; i++) g->values[out[i]].producer = g->n_nodes;
    if (node_id) *node_id = g->n_nodes;
    g->n_nodes++;
    return KN_OK;
}

/* ---- attributes ---- */

const kn_attr *kn_node_attr(const kn_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
    return NULL;
}

static kn_status attr_slot(kn_graph *g, int node, const char *name, kn_attr **out)
{
    if (node < 0 || node >= g->n_nodes) return kn_error(KN_ERR_INVALID, "node id %d does not exist", node);
    kn_node *n = &g->nodes[node];
    for (int i = 0; i < n->n_attrs; i++)
        if (!strcmp(n->attrs[i].name, name)) {
            attr_free(&n->attrs[i]);
            n->attrs[i].name = strdup(name);
            if (!n->attrs[i].name) return kn_error(KN_ERR_NOMEM, "out of memory");
            *out = &n->attrs[i];
            return KN_OK;
        }
    kn_attr *na = realloc(n->attrs, sizeof *na * (size_t)(n->n_attrs + 1));
    if (!na) return kn_error(KN_ERR_NOMEM, "out of memory");
    n->attrs = na;
    kn_attr *a = &n->attrs[n->n_attrs];
    memset(a, 0, sizeof *a);
    a->name = strdup(name);
    if (!a->name) return kn_error(KN_ERR_NOMEM, "out of memory");
    n->n_attrs++;
    *out = a;
    return KN_OK;
}

kn_status kn_node_set_int(kn_graph *g, int node, const char *name, int64_t v)
{
    kn_attr *a;
    KN_TRY(attr_slot(g, node, name, &a));
    a->type = KN_ATTR_INT;
    a->i = v;
    return KN_OK;
}

kn_status kn_node_set_float(kn_graph *g, int node, const char *name, float v)
{
    kn_attr *a;
    KN_TRY(attr_slot(g, node, name, &a));
    a->type = KN_ATTR_FLOAT;
    a->f = v;
    return KN_OK;
}

kn_status kn_node_set_string(kn_graph *g, int node, const char *name, const char *v)
{
    kn_attr *a;
    KN_TRY(attr_slot(g, node, name, &a));
    a->type = KN_ATTR_STRING;
    a->s = strdup(v ? v : "");
    return a->s ? KN_OK : kn_error(KN_ERR_NOMEM, "out of memory");
}

kn_status kn_node_set_ints(kn_graph *g, int node, const char *name, int64_t n, const int64_t *v)
{
    kn_attr *a;
    KN_TRY(attr_slot(g, node, name, &a));
    a->type = KN_ATTR_INTS;
    a->ints = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!a->ints) return kn_error(KN_ERR_NOMEM, "out of memory");
    if (n) memcpy(a->ints, v, sizeof(int64_t) * (size_t)n);
    a->n = n;
    return KN_OK;
}

kn_status kn_node_set_floats(kn_graph *g, int node, const char *name, int64_t n, const float *v)
{
    kn_attr *a;
    KN_TRY(attr_slot(g, node, name, &a));
    a->type = KN_ATTR_FLOATS;
    a->floats = malloc(sizeof(float) * (size_t)(n ? n : 1));
    if (!a->floats) return kn_error(KN_ERR_NOMEM, "out of memory");
    if (n) memcpy(a->floats, v, sizeof(float) * (size_t)n);
    a->n = n;
    return KN_OK;
}

kn_status kn_node_set_strings(kn_graph *g, int node, const char *name, int64_t n, char *const *v)
{
    kn_attr *a;
    KN_TRY(attr_slot(g, node, name, &a));
    a->type = KN_ATTR_STRINGS;
    a->strings = calloc((size_t)(n ? n : 1), sizeof(char *));
    if (!a->strings) return kn_error(KN_ERR_NOMEM, "out of memory");
    a->n = n;
    for (int64_t i = 0; i < n; i++) {
        a->strings[i] = strdup(v[i] ? v[i] : "");
        if (!a->strings[i]) return kn_error(KN_ERR_NOMEM, "out of memory");
    }
    return KN_OK;
}

kn_status kn_node_set_tensor(kn_graph *g, int node, const char *name, kn_tensor *t)
{
    kn_attr *a;
    KN_TRY(attr_slot(g, node, name, &a));
    a->type = KN_ATTR_TENSOR;
    a->t = *t;
    kn_tensor_meta(t, t->dtype, t->ndim, t->shape);
    return KN_OK;
}

kn_status kn_node_remove_attr(kn_graph *g, int node, const char *name)
{
    kn_node *n = &g->nodes[node];
    for (int i = 0; i < n->n_attrs; i++)
        if (!strcmp(n->attrs[i].name, name)) {
            attr_free(&n->attrs[i]);
            memmove(&n->attrs[i], &n->attrs[i + 1], sizeof(kn_attr) * (size_t)(n->n_attrs - i - 1));
            n->n_attrs--;
            return KN_OK;
        }
    return KN_OK;
}

static const char *attr_type_name(kn_attr_type t)
{
    static const char *names[] = {"undefined", "float", "int", "string", "tensor", "graph", "floats", "ints", "strings"};
    return (int)t >= 0 && t <= KN_ATTR_STRINGS ? names[t] : "unknown";
}

static kn_status wrong_type(const kn_node *n, const kn_attr *a, kn_attr_type want)
{
    return kn_node_error(n, KN_ERR_INVALID, "attribute '%s' must be %s, got %s", a->name, attr_type_name(want),
                         attr_type_name(a->type));
}

kn_status kn_attr_require(const kn_node *n, const char *name, kn_attr_type type, const kn_attr **out)
{
    const kn_attr *a = kn_node_attr(n, name);
    if (!a) return kn_node_error(n, KN_ERR_INVALID, "required attribute '%s' is missing", name);
    if (a->type != type) return wrong_type(n, a, type);
    *out = a;
    return KN_OK;
}

kn_status kn_attr_int(const kn_node *n, const char *name, int64_t def, int64_t *out)
{
    const kn_attr *a = kn_node_attr(n, name);
    if (!a) { *out = def; return KN_OK; }
    if (a->type != KN_ATTR_INT) return wrong_type(n, a, KN_ATTR_INT);
    *out = a->i;
    return KN_OK;
}

kn_status kn_attr_float(const kn_node *n, const char *name, float def, float *out)
{
    const kn_attr *a = kn_node_attr(n, name);
    if (!a) { *out = def; return KN_OK; }
    if (a->type != KN_ATTR_FLOAT) return wrong_type(n, a, KN_ATTR_FLOAT);
    *out = a->f;
    return KN_OK;
}

kn_status kn_attr_string(const kn_node *n, const char *name, const char *def, const char **out)
{
    const kn_attr *a = kn_node_attr(n, name);
    if (!a) { *out = def; return KN_OK; }
    if (a->type != KN_ATTR_STRING) return wrong_type(n, a, KN_ATTR_STRING);
    *out = a->s;
    return KN_OK;
}

kn_status kn_attr_ints(const kn_node *n, const char *name, int64_t *out, int max, int *count)
{
    const kn_attr *a = kn_node_attr(n, name);
    if (!a) { *count = -1; return KN_OK; }
    if (a->type != KN_ATTR_INTS) return wrong_type(n, a, KN_ATTR_INTS);
    if (a->n > max) return kn_node_error(n, KN_ERR_INVALID, "attribute '%s' has %lld values, at most %d allowed", name, (long long)a->n, max);
    memcpy(out, a->ints, sizeof(int64_t) * (size_t)a->n);
    *count = (int)a->n;
    return KN_OK;
}

kn_status kn_attr_floats(const kn_node *n, const char *name, float *out, int max, int *count)
{
    const kn_attr *a = kn_node_attr(n, name);
    if (!a) { *count = -1; return KN_OK; }
    if (a->type != KN_ATTR_FLOATS) return wrong_type(n, a, KN_ATTR_FLOATS);
    if (a->n > max) return kn_node_error(n, KN_ERR_INVALID, "attribute '%s' has %lld values, at most %d allowed", name, (long long)a->n, max);
    memcpy(out, a->floats, sizeof(float) * (size_t)a->n);
    *count = (int)a->n;
    return KN_OK;
}

/* ---- queries ---- */

int kn_graph_consumers(const kn_graph *g, int value, int *nodes, int max)
{
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const kn_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int j = 0; j < n->n_inputs; j++)
            if (n->inputs[j] == value) {
                if (count < max && nodes) nodes[count] = i;
                count++;
                break;
            }
    }
    return count;
}

bool kn_graph_is_output(const kn_graph *g, int value)
{
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == value) return true;
    return value == g->loss && value >= 0;
}

static bool value_is_source(const kn_value *v) { return v->kind != KN_VALUE_INTERMEDIATE; }

kn_status kn_graph_topo_order(const kn_graph *g, int *order, int *count)
{
    /* Kahn's algorithm over live nodes. */
    int n = g->n_nodes, head = 0, tail = 0;
    int *pending = calloc((size_t)(n ? n : 1), sizeof(int));
    if (!pending) return kn_error(KN_ERR_NOMEM, "out of memory ordering the graph");
    for (int i = 0; i < n; i++) {
        const kn_node *nd = &g->nodes[i];
        if (nd->dead) continue;
        for (int j = 0; j < nd->n_inputs; j++) {
            int v = nd->inputs[j];
            if (v < 0) continue;
            const kn_value *val = &g->values[v];
            if (val->producer < 0 && !value_is_source(val)) {
                free(pending);
                return kn_error(KN_ERR_INVALID, "node '%s' (%s): input '%s' is produced by no node and is neither a graph input nor an initializer",
                                nd->name, nd->op_type, val->name);
            }
            if (val->producer >= 0 && g->nodes[val->producer].dead) {
                free(pending);
                return kn_error(KN_ERR_INVALID, "node '%s' (%s): input '%s' comes from a removed node", nd->name, nd->op_type, val->name);
            }
            if (val->producer >= 0) pending[i]++;
        }
        if (pending[i] == 0) order[tail++] = i;
    }
    while (head < tail) {
        int i = order[head++];
        const kn_node *nd = &g->nodes[i];
        for (int o = 0; o < nd->n_outputs; o++) {
            int v = nd->outputs[o];
            for (int c = 0; c < n; c++) {
                const kn_node *cn = &g->nodes[c];
                if (cn->dead) continue;
                for (int j = 0; j < cn->n_inputs; j++)
                    if (cn->inputs[j] == v && --pending[c] == 0) order[tail++] = c;
            }
        }
    }
    int live = 0;
    for (int i = 0; i < n; i++) live += !g->nodes[i].dead;
    if (tail != live) {
        for (int i = 0; i < n; i++)
            if (!g->nodes[i].dead && pending[i] > 0) {
                kn_status st = kn_error(KN_ERR_INVALID, "the graph has a cycle through node '%s' (%s)",
                                        g->nodes[i].name, g->nodes[i].op_type);
                free(pending);
                return st;
            }
    }
    free(pending);
    *count = tail;
    return KN_OK;
}

kn_status kn_graph_compact(kn_graph *g)
{
    int *vmap = malloc(sizeof(int) * (size_t)(g->n_values ? g->n_values : 1));
    int *nmap = malloc(sizeof(int) * (size_t)(g->n_nodes ? g->n_nodes : 1));
    char *used = calloc((size_t)(g->n_values ? g->n_values : 1), 1);
    if (!vmap || !nmap || !used) {
        free(vmap); free(nmap); free(used);
        return kn_error(KN_ERR_NOMEM, "out of memory compacting the graph");
    }
    for (int i = 0; i < g->n_inputs; i++) used[g->inputs[i]] = 1;
    for (int i = 0; i < g->n_outputs; i++) used[g->outputs[i]] = 1;
    if (g->loss >= 0) used[g->loss] = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        kn_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int j = 0; j < n->n_inputs; j++) if (n->inputs[j] >= 0) used[n->inputs[j]] = 1;
        for (int j = 0; j < n->n_outputs; j++) used[n->outputs[j]] = 1;
    }
    int nv = 0;
    for (int v = 0; v < g->n_values; v++) {
        if (used[v]) {
            vmap[v] = nv;
            if (nv != v) g->values[nv] = g->values[v];
            nv++;
        } else {
            vmap[v] = -1;
            value_free(&g->values[v]);
        }
    }
    g->n_values = nv;
    int nn = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead) {
            nmap[i] = -1;
            node_free(&g->nodes[i]);
            continue;
        }
        nmap[i] = nn;
        if (nn != i) g->nodes[nn] = g->nodes[i];
        kn_node *n = &g->nodes[nn];
        for (int j = 0; j < n->n_inputs; j++) if (n->inputs[j] >= 0) n->inputs[j] = vmap[n->inputs[j]];
        for (int j = 0; j < n->n_outputs; j++) n->outputs[j] = vmap[n->outputs[j]];
        nn++;
    }
    g->n_nodes = nn;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].producer >= 0) g->values[v].producer = nmap[g->values[v].producer];
    for (int i = 0; i < g->n_inputs; i++) g->inputs[i] = vmap[g->inputs[i]];
    for (int i = 0; i < g->n_outputs; i++) g->outputs[i] = vmap[g->outputs[i]];
    if (g->loss >= 0) g->loss = vmap[g->loss];
    free(vmap); free(nmap); free(used);
    free(g->name_index);
    g->name_index = NULL;
    g->name_index_cap = 0;
    return KN_OK;
}

void kn_graph_param_stats(const kn_graph *g, int64_t *count, int64_t *bytes)
{
    int64_t c = 0, b = 0;
    for (int v = 0; v < g->n_values; v++) {
        const kn_value *val = &g->values[v];
        if (val->kind == KN_VALUE_PARAM || val->kind == KN_VALUE_CONST) {
            c += kn_tensor_numel(&val->data);
            b += (int64_t)kn_tensor_bytes(&val->data);
        }
    }
    *count = c;
    *bytes = b;
}

/* ---- clone ---- */

static kn_status attr_copy(kn_attr *d, const kn_attr *s)
{
    memset(d, 0, sizeof *d);
    d->type = s->type;
    d->f = s->f;
    d->i = s->i;
    d->n = s->n;
    d->name = strdup(s->name);
    if (!d->name) return kn_error(KN_ERR_NOMEM, "out of memory");
    if (s->s && !(d->s = strdup(s->s))) return kn_error(KN_ERR_NOMEM, "out of memory");
    if (s->t.data) KN_TRY(kn_tensor_clone(&d->t, &s->t));
    else d->t = s->t;
    if (s->ints) {
        d->ints = malloc(sizeof(int64_t) * (size_t)(s->n ? s->n : 1));
        if (!d->ints) return kn_error(KN_ERR_NOMEM, "out of memory");
        memcpy(d->ints, s->ints, sizeof(int64_t) * (size_t)s->n);
    }
    if (s->floats) {
        d->floats = malloc(sizeof(float) * (size_t)(s->n ? s->n : 1));
        if (!d->floats) return kn_error(KN_ERR_NOMEM, "out of memory");
        memcpy(d->floats, s->floats, sizeof(float) * (size_t)s->n);
    }
    if (s->strings) {
        d->strings = calloc((size_t)(s->n ? s->n : 1), sizeof(char *));
        if (!d->strings) return kn_error(KN_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < s->n; i++)
            if (!(d->strings[i] = strdup(s->strings[i]))) return kn_error(KN_ERR_NOMEM, "out of memory");
    }
    return KN_OK;
}

kn_status kn_graph_clone(kn_graph **out, const kn_graph *s)
{
    kn_graph *g;
    KN_TRY(kn_graph_create(&g));
    kn_status st = KN_ERR_NOMEM;
    g->opset = s->opset;
    g->ir_version = s->ir_version;
    g->rng = s->rng;
    g->loss = s->loss;
    g->sticky = s->sticky;
    if ((s->name && !(g->name = strdup(s->name))) ||
        (s->producer_name && !(g->producer_name = strdup(s->producer_name))) ||
        (s->producer_version && !(g->producer_version = strdup(s->producer_version))) ||
        (s->doc && !(g->doc = strdup(s->doc))))
        goto fail;
    g->values = calloc((size_t)(s->n_values ? s->n_values : 1), sizeof(kn_value));
    g->nodes = calloc((size_t)(s->n_nodes ? s->n_nodes : 1), sizeof(kn_node));
    g->inputs = malloc(sizeof(int) * (size_t)(s->n_inputs ? s->n_inputs : 1));
    g->outputs = malloc(sizeof(int) * (size_t)(s->n_outputs ? s->n_outputs : 1));
    if (!g->values || !g->nodes || !g->inputs || !g->outputs) goto fail;
    g->cap_values = s->n_values ? s->n_values : 1;
    g->cap_nodes = s->n_nodes ? s->n_nodes : 1;
    for (int v = 0; v < s->n_values; v++) {
        const kn_value *sv = &s->values[v];
        kn_value *dv = &g->values[v];
        *dv = *sv;
        dv->name = NULL;
        memset(dv->dim_param, 0, sizeof dv->dim_param);
        g->n_values = v + 1;
        if (!(dv->name = strdup(sv->name))) goto fail;
        for (int i = 0; i < KN_MAX_DIMS; i++)
            if (sv->dim_param[i] && !(dv->dim_param[i] = strdup(sv->dim_param[i]))) goto fail;
        if (dv->data.buf) dv->data.buf->refs++; /* parameters are shared */
    }
    for (int i = 0; i < s->n_nodes; i++) {
        const kn_node *sn = &s->nodes[i];
        kn_node *dn = &g->nodes[i];
        g->n_nodes = i + 1;
        dn->op = sn->op;
        dn->dead = sn->dead;
        dn->n_inputs = sn->n_inputs;
        dn->n_outputs = sn->n_outputs;
        if (!(dn->name = strdup(sn->name)) || !(dn->op_type = strdup(sn->op_type)) ||
            !(dn->domain = strdup(sn->domain)))
            goto fail;
        dn->inputs = malloc(sizeof(int) * (size_t)(sn->n_inputs ? sn->n_inputs : 1));
        dn->outputs = malloc(sizeof(int) * (size_t)(sn->n_outputs ? sn->n_outputs : 1));
        dn->attrs = calloc((size_t)(sn->n_attrs ? sn->n_attrs : 1), sizeof(kn_attr));
        if (!dn->inputs || !dn->outputs || !dn->attrs) goto fail;
        if (sn->n_inputs) memcpy(dn->inputs, sn->inputs, sizeof(int) * (size_t)sn->n_inputs);
        if (sn->n_outputs) memcpy(dn->outputs, sn->outputs, sizeof(int) * (size_t)sn->n_outputs);
        for (int a = 0; a < sn->n_attrs; a++) {
            dn->n_attrs = a + 1;
            if ((st = attr_copy(&dn->attrs[a], &sn->attrs[a])) != KN_OK) goto fail;
        }
    }
    if (s->n_inputs) memcpy(g->inputs, s->inputs, sizeof(int) * (size_t)s->n_inputs);
    g->n_inputs = s->n_inputs;
    if (s->n_outputs) memcpy(g->outputs, s->outputs, sizeof(int) * (size_t)s->n_outputs);
    g->n_outputs = s->n_outputs;
    *out = g;
    return KN_OK;
fail:
    kn_graph_free(g);
    return st == KN_ERR_NOMEM ? kn_error(KN_ERR_NOMEM, "out of memory cloning the graph") : st;
}
