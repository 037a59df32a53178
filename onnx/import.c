/* ModelProto -> kn_graph. Values are created by name first (initializers,
 * inputs, every node output), then nodes are wired to them, so a bad name is
 * reported as dangling rather than as a missing forward reference; cycles
 * are found by kn_graph_topo_order, type and shape errors by the ops' infer. */
#include "onnx/internal.h"
#include "nn/op.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KN_ONNX_MIN_OPSET 1
#define KN_ONNX_MAX_OPSET 19

typedef struct importer {
    const char *file;     /* names the model in errors */
    const char *base_dir; /* external data; NULL refuses it */
    kn_graph *g;
    /* lenient mode (kiln check): node problems are collected, not fatal */
    bool lenient;
    char *report;
    size_t report_size, report_len;
    int n_problems;
    unsigned char *poisoned; /* per value id: produced by a node that was left out */
} importer;

static void add_problem(importer *im)
{
    im->n_problems++;
    if (!im->report || im->report_size == 0) return;
    int w = snprintf(im->report + im->report_len, im->report_size - im->report_len, "%s: %s\n", im->file,
                     kn_last_error());
    if (w > 0) im->report_len += (size_t)w;
    if (im->report_len >= im->report_size) im->report_len = im->report_size - 1;
}

static const char *node_label(const Onnx__NodeProto *np, int idx, char *buf, size_t size)
{
    if (np->name && *np->name) snprintf(buf, size, "node '%s' (%s)", np->name, np->op_type ? np->op_type : "?");
    else snprintf(buf, size, "node #%d (%s)", idx, np->op_type ? np->op_type : "?");
    return buf;
}

/* ---- types ---- */

static kn_status apply_type(importer *im, int v, const Onnx__ValueInfoProto *vi, const char *role, bool required)
{
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET) {
        if (required) return kn_error(KN_ERR_FORMAT, "%s '%s' has no type", role, vi->name);
        return KN_OK;
    }
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE)
        return kn_error(KN_ERR_UNSUPPORTED, "%s '%s': only tensor types are supported (sequence, map, optional and sparse are not)",
                        role, vi->name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    int code = tt->has_elem_type ? tt->elem_type : 0;
    if (!kn_dtype_valid(code) || code == 0) {
        if (!required && code == 0) return KN_OK;
        return kn_error(code ? KN_ERR_UNSUPPORTED : KN_ERR_FORMAT, "%s '%s': elem_type %d is %s", role, vi->name, code,
                        code ? "not supported by kiln" : "missing");
    }
    kn_value *val = &im->g->values[v];
    val->dtype = (kn_dtype)code;
    if (!tt->shape) return KN_OK; /* rank unknown */
    if (tt->shape->n_dim > KN_MAX_DIMS)
        return kn_error(KN_ERR_UNSUPPORTED, "%s '%s': rank %zu exceeds kiln's %d", role, vi->name, tt->shape->n_dim,
                        KN_MAX_DIMS);
    int ndim = (int)tt->shape->n_dim;
    for (int d = 0; d < ndim; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
        int64_t size = KN_DIM_UNKNOWN;
        if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (dim->dim_value < 0)
                return kn_error(KN_ERR_FORMAT, "%s '%s': dim %d is %lld", role, vi->name, d, (long long)dim->dim_value);
            size = dim->dim_value;
        } else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && dim->dim_param &&
                   *dim->dim_param) {
            KN_TRY(kn_value_set_dim_param(im->g, v, d, dim->dim_param));
        }
        im->g->values[v].shape[d] = size;
    }
    val = &im->g->values[v];
    val->ndim = ndim;
    val->data.dtype = val->dtype;
    val->data.ndim = ndim;
    return KN_OK;
}

/* ---- attributes ---- */

static int attr_type_of(const Onnx__AttributeProto *a)
{
    if (a->has_type) return (int)a->type;
    /* IR < 3 writers may omit the type: infer it from the field that is set */
    if (a->n_floats) return KN_ATTR_FLOATS;
    if (a->n_ints) return KN_ATTR_INTS;
    if (a->n_strings) return KN_ATTR_STRINGS;
    if (a->t) return KN_ATTR_TENSOR;
    if (a->g) return KN_ATTR_GRAPH;
    if (a->n_graphs) return 10;
    if (a->has_s) return KN_ATTR_STRING;
    if (a->has_f) return KN_ATTR_FLOAT;
    if (a->has_i) return KN_ATTR_INT;
    return KN_ATTR_UNDEFINED;
}

/* Attribute problems kiln cannot represent, checked before the node is added. */
static kn_status check_attr(const Onnx__AttributeProto *a, const char *label)
{
    if (!a->name || !*a->name) return kn_error(KN_ERR_FORMAT, "%s: an attribute has no name", label);
    if (a->ref_attr_name && *a->ref_attr_name)
        return kn_error(KN_ERR_UNSUPPORTED, "%s: attribute '%s' refers to function attribute '%s'; functions are not supported",
                        label, a->name, a->ref_attr_name);
    int t = attr_type_of(a);
    switch (t) {
    case KN_ATTR_FLOAT: case KN_ATTR_INT: case KN_ATTR_STRING: case KN_ATTR_FLOATS: case KN_ATTR_INTS:
    case KN_ATTR_STRINGS:
        return KN_OK;
    case KN_ATTR_TENSOR:
        if (!a->t) return kn_error(KN_ERR_FORMAT, "%s: tensor attribute '%s' holds no tensor", label, a->name);
        return KN_OK;
    case KN_ATTR_GRAPH: case 10:
        return kn_error(KN_ERR_UNSUPPORTED, "%s: attribute '%s' is a subgraph; control flow and subgraphs are not supported",
                        label, a->name);
    case 11: case 12:
        return kn_error(KN_ERR_UNSUPPORTED, "%s: attribute '%s' is a sparse tensor; sparse tensors are not supported", label,
                        a->name);
    case 9:
        return kn_error(KN_ERR_UNSUPPORTED, "%s: attribute '%s' is a list of tensors, which kiln does not support", label,
                        a->name);
    case 13: case 14:
        return kn_error(KN_ERR_UNSUPPORTED, "%s: attribute '%s' holds type protos, which kiln does not support", label,
                        a->name);
    default:
        return kn_error(KN_ERR_FORMAT, "%s: attribute '%s' has unknown type %d", label, a->name, t);
    }
}

static kn_status set_attr(importer *im, int node, const Onnx__AttributeProto *a, const char *label)
{
    kn_graph *g = im->g;
    switch (attr_type_of(a)) {
    case KN_ATTR_FLOAT: return kn_node_set_float(g, node, a->name, a->f);
    case KN_ATTR_INT: return kn_node_set_int(g, node, a->name, a->i);
    case KN_ATTR_STRING: {
        char *s = strndup(a->s.data ? (const char *)a->s.data : "", a->s.len);
        if (!s) return kn_error(KN_ERR_NOMEM, "out of memory");
        kn_status st = kn_node_set_string(g, node, a->name, s);
        free(s);
        return st;
    }
    case KN_ATTR_FLOATS: return kn_node_set_floats(g, node, a->name, (int64_t)a->n_floats, a->floats);
    case KN_ATTR_INTS: return kn_node_set_ints(g, node, a->name, (int64_t)a->n_ints, a->ints);
    case KN_ATTR_STRINGS: {
        char **v = calloc(a->n_strings ? a->n_strings : 1, sizeof *v);
        kn_status st = v ? KN_OK : kn_error(KN_ERR_NOMEM, "out of memory");
        for (size_t i = 0; st == KN_OK && i < a->n_strings; i++)
            if (!(v[i] = strndup(a->strings[i].data ? (const char *)a->strings[i].data : "", a->strings[i].len)))
                st = kn_error(KN_ERR_NOMEM, "out of memory");
        if (st == KN_OK) st = kn_node_set_strings(g, node, a->name, (int64_t)a->n_strings, v);
        for (size_t i = 0; v && i < a->n_strings; i++) free(v[i]);
        free(v);
        return st;
    }
    case KN_ATTR_TENSOR: {
        char what[600];
        snprintf(what, sizeof what, "%s: attribute '%s'", label, a->name);
        kn_tensor t;
        KN_TRY(kn_onnx_tensor_from_pb(a->t, im->base_dir, what, &t));
        kn_status st = kn_node_set_tensor(g, node, a->name, &t);
        kn_tensor_release(&t);
        return st;
    }
    default: return kn_error(KN_ERR_INTERNAL, "%s: attribute '%s' passed the checks but has no mapping", label, a->name);
    }
}

/* ---- nodes ---- */

static kn_status add_node(importer *im, const Onnx__NodeProto *np, int idx)
{
    kn_graph *g = im->g;
    char label[512];
    node_label(np, idx, label, sizeof label);
    if (!np->op_type || !*np->op_type) return kn_error(KN_ERR_FORMAT, "%s has no op_type", label);
    const char *dom = np->domain ? np->domain : "";
    if (*dom && strcmp(dom, "ai.onnx") && strcmp(dom, "kiln"))
        return kn_error(KN_ERR_UNSUPPORTED, "%s: domain '%s' is not supported (only ai.onnx and kiln)", label, dom);
    for (size_t i = 0; i < np->n_attribute; i++) KN_TRY(check_attr(np->attribute[i], label));
    int n_in = (int)np->n_input, n_out = (int)np->n_output;
    while (n_out > 0 && (!np->output[n_out - 1] || !*np->output[n_out - 1])) n_out--; /* omitted trailing outputs */
    int *ids = malloc(sizeof(int) * (size_t)(n_in + n_out + 1));
    if (!ids) return kn_error(KN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n_in + n_out; i++) ids[i] = -1;
    kn_status st = KN_OK;
    bool poisoned = false;
    for (int i = 0; i < n_in && st == KN_OK; i++) {
        const char *name = np->input[i];
        if (!name || !*name) { ids[i] = KN_NO_VALUE; continue; }
        ids[i] = kn_graph_find_value(g, name);
        if (ids[i] < 0)
            st = kn_error(KN_ERR_INVALID, "%s: input '%s' is not a graph input, an initializer or any node's output", label,
                          name);
        else if (im->poisoned && im->poisoned[ids[i]])
            poisoned = true;
    }
    for (int i = 0; i < n_out && st == KN_OK; i++) {
        const char *name = np->output[i];
        int *id = &ids[n_in + i];
        if (!name || !*name) { /* an omitted output in the middle still needs a value in kiln's IR */
            st = kn_graph_add_value(g, NULL, KN_UNDEFINED, -1, NULL, id);
            continue;
        }
        *id = kn_graph_find_value(g, name);
        if (*id < 0) st = kn_error(KN_ERR_INTERNAL, "%s: output '%s' was not pre-created", label, name);
        else if (g->values[*id].producer >= 0 || g->values[*id].kind != KN_VALUE_INTERMEDIATE)
            st = kn_error(KN_ERR_INVALID, "%s: output '%s' is already %s", label, name,
                          g->values[*id].producer >= 0 ? "produced by another node" : "a graph input or initializer");
    }
    if (st == KN_OK && poisoned) {
        /* a node upstream was left out (lenient mode): skip quietly, it was reported */
        for (int i = 0; i < n_out; i++) im->poisoned[ids[n_in + i]] = 1;
        free(ids);
        return KN_OK;
    }
    int node = -1;
    if (st == KN_OK)
        st = kn_graph_add_node(g, np->op_type, dom, np->name && *np->name ? np->name : NULL, n_in, ids, n_out,
                               ids + n_in, &node);
    for (size_t i = 0; st == KN_OK && i < np->n_attribute; i++) st = set_attr(im, node, np->attribute[i], label);
    if (st != KN_OK && node >= 0) {
        /* keep the graph consistent: the half-built node is removed */
        g->nodes[node].dead = true;
        for (int i = 0; i < n_out; i++) g->values[ids[n_in + i]].producer = -1;
    }
    if (st != KN_OK && im->poisoned)
        for (int i = 0; i < n_out; i++)
            if (ids[n_in + i] >= 0) im->poisoned[ids[n_in + i]] = 1;
    free(ids);
    return st;
}

/* ---- the model ---- */

static kn_status import_opsets(importer *im, const Onnx__ModelProto *m)
{
    int opset = -1;
    const char *other = NULL;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        const char *dom = o->domain ? o->domain : "";
        if (*dom && strcmp(dom, "ai.onnx")) { /* other domains: refused where a node uses them */
            if (strcmp(dom, "kiln") && !other) other = dom;
            continue;
        }
        long long v = o->has_version ? (long long)o->version : -1;
        if (v < KN_ONNX_MIN_OPSET || v > KN_ONNX_MAX_OPSET)
            return kn_error(KN_ERR_UNSUPPORTED, "opset_import: ai.onnx opset %lld is not supported (kiln reads %d..%d)", v,
                            KN_ONNX_MIN_OPSET, KN_ONNX_MAX_OPSET);
        opset = (int)v;
    }
    if (opset < 0 && other)
        return kn_error(KN_ERR_UNSUPPORTED, "opset_import: domain '%s' is not supported (only ai.onnx and kiln)", other);
    if (opset < 0) return kn_error(KN_ERR_FORMAT, "opset_import has no ai.onnx entry");
    im->g->opset = opset;
    return KN_OK;
}

static bool is_bn_stat(const kn_graph *g, int v)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const kn_node *n = &g->nodes[i];
        if (n->dead || strcmp(n->op_type, "BatchNormalization")) continue;
        for (int j = 3; j < n->n_inputs && j < 5; j++)
            if (n->inputs[j] == v) return true;
    }
    return false;
}

static kn_status import_graph(importer *im, const Onnx__ModelProto *m)
{
    kn_graph *g = im->g;
    const Onnx__GraphProto *gp = m->graph;
    kn_status st;
    if (!m->has_ir_version || m->ir_version < 3)
        return kn_error(KN_ERR_UNSUPPORTED, "ir_version %lld is not supported (kiln reads 3 and newer)",
                        m->has_ir_version ? (long long)m->ir_version : 0LL);
    if (!gp) return kn_error(KN_ERR_FORMAT, "the model has no graph");
    KN_TRY(import_opsets(im, m));
    g->ir_version = m->ir_version;
    if ((m->producer_name && !(g->producer_name = strdup(m->producer_name))) ||
        (m->producer_version && !(g->producer_version = strdup(m->producer_version))) ||
        (m->doc_string && !(g->doc = strdup(m->doc_string))))
        return kn_error(KN_ERR_NOMEM, "out of memory");
    KN_TRY(kn_graph_set_name(g, gp->name));
    if (gp->n_sparse_initializer)
        return kn_error(KN_ERR_UNSUPPORTED, "graph has %zu sparse_initializer entries (first '%s'); sparse tensors are not supported",
                        gp->n_sparse_initializer, gp->sparse_initializer[0]->values && gp->sparse_initializer[0]->values->name
                                                      ? gp->sparse_initializer[0]->values->name : "?");

    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !*tp->name) return kn_error(KN_ERR_FORMAT, "initializer #%zu has no name", i);
        char what[600];
        snprintf(what, sizeof what, "initializer '%s'", tp->name);
        if (kn_graph_find_value(g, tp->name) >= 0) return kn_error(KN_ERR_INVALID, "%s is defined twice", what);
        kn_tensor t;
        KN_TRY(kn_onnx_tensor_from_pb(tp, im->base_dir, what, &t));
        st = kn_graph_add_initializer(g, tp->name, &t, kn_dtype_is_float(t.dtype) ? KN_VALUE_PARAM : KN_VALUE_CONST, NULL);
        kn_tensor_release(&t);
        KN_TRY(st);
    }
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name || !*vi->name) return kn_error(KN_ERR_FORMAT, "graph input #%zu has no name", i);
        int v = kn_graph_find_value(g, vi->name);
        if (v >= 0) {
            if (g->values[v].kind == KN_VALUE_INPUT) return kn_error(KN_ERR_INVALID, "graph input '%s' is listed twice", vi->name);
            continue; /* an initializer listed as input (IR < 4 style): a constant, not fed */
        }
        KN_TRY(kn_graph_add_input(g, vi->name, KN_UNDEFINED, -1, NULL, &v));
        KN_TRY(apply_type(im, v, vi, "graph input", true));
    }
    /* every node output exists before any node is wired */
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        for (size_t o = 0; o < np->n_output; o++) {
            const char *name = np->output[o];
            if (!name || !*name) continue;
            int v = kn_graph_find_value(g, name);
            if (v >= 0) {
                char label[512];
                st = kn_error(KN_ERR_INVALID, "%s: output '%s' is already %s", node_label(np, (int)i, label, sizeof label),
                              name, g->values[v].kind == KN_VALUE_INTERMEDIATE ? "produced by another node"
                                                                               : "a graph input or initializer");
                if (!im->lenient) return st;
                add_problem(im);
                continue;
            }
            KN_TRY(kn_graph_add_value(g, name, KN_UNDEFINED, -1, NULL, &v));
        }
    }
    if (im->lenient) {
        /* values only grow from here by omitted middle outputs; size for the worst case */
        size_t n = (size_t)g->n_values + 1;
        for (size_t i = 0; i < gp->n_node; i++) n += gp->node[i]->n_output;
        im->poisoned = calloc(n, 1);
        if (!im->poisoned) return kn_error(KN_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < gp->n_node; i++) {
        st = add_node(im, gp->node[i], (int)i);
        if (st != KN_OK) {
            if (!im->lenient) return st;
            add_problem(im);
        }
    }
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind == KN_VALUE_PARAM && is_bn_stat(g, v)) g->values[v].kind = KN_VALUE_CONST;
    for (size_t i = 0; i < gp->n_value_info; i++) {
        const Onnx__ValueInfoProto *vi = gp->value_info[i];
        int v = vi->name ? kn_graph_find_value(g, vi->name) : -1;
        if (v < 0 || g->values[v].kind != KN_VALUE_INTERMEDIATE) continue; /* describes nothing kiln keeps */
        st = apply_type(im, v, vi, "value_info", false);
        if (st != KN_OK) {
            if (!im->lenient) return st;
            add_problem(im);
        }
    }
    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        int v = vi->name && *vi->name ? kn_graph_find_value(g, vi->name) : -1;
        if (v < 0) {
            st = kn_error(KN_ERR_INVALID, "graph output '%s' is not produced by any node, input or initializer",
                          vi->name ? vi->name : "");
            if (!im->lenient) return st;
            add_problem(im);
            continue;
        }
        if (im->poisoned && im->poisoned[v]) continue; /* its producer was reported and left out */
        if (g->values[v].kind == KN_VALUE_INTERMEDIATE) {
            st = apply_type(im, v, vi, "graph output", false);
            if (st != KN_OK) {
                if (!im->lenient) return st;
                add_problem(im);
            }
        }
        KN_TRY(kn_graph_add_output(g, v));
    }
    if (im->lenient) return KN_OK; /* kn_graph_validate takes it from here */
    int *order = malloc(sizeof(int) * (size_t)(g->n_nodes ? g->n_nodes : 1)), count;
    if (!order) return kn_error(KN_ERR_NOMEM, "out of memory");
    st = kn_graph_topo_order(g, order, &count);
    free(order);
    KN_TRY(st);
    return kn_graph_infer_shapes(g);
}

static kn_status load(const void *buf, size_t len, const char *file, const char *base_dir, bool lenient,
                      kn_graph **out, char *report, size_t report_size, int *n_problems)
{
    *out = NULL;
    if (n_problems) *n_problems = 0;
    if (report && report_size) report[0] = 0;
    if (len == 0) return kn_error(KN_ERR_FORMAT, "%s: the file is empty", file);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
    if (!m) return kn_error(KN_ERR_FORMAT, "%s: not an ONNX model (protobuf parse failed: truncated or not protobuf)", file);
    importer im = {.file = file, .base_dir = base_dir, .lenient = lenient, .report = report, .report_size = report_size};
    kn_status st = kn_graph_create(&im.g);
    if (st == KN_OK) st = import_graph(&im, m);
    onnx__model_proto__free_unpacked(m, NULL);
    free(im.poisoned);
    if (n_problems) *n_problems = im.n_problems;
    if (st != KN_OK) {
        kn_graph_free(im.g);
        return kn_error_context(st, "%s: ", file);
    }
    *out = im.g;
    return KN_OK;
}

kn_status kn_onnx_load_buffer(const void *buf, size_t len, const char *base_dir, kn_graph **out)
{
    return load(buf, len, "<buffer>", base_dir, false, out, NULL, 0, NULL);
}

static kn_status load_file(const char *path, bool lenient, kn_graph **out, char *report, size_t report_size,
                           int *n_problems)
{
    void *buf;
    size_t len;
    *out = NULL;
    KN_TRY(kn_onnx_read_file(path, &buf, &len));
    char *dir = kn_onnx_dirname(path);
    kn_status st = dir ? load(buf, len, path, dir, lenient, out, report, report_size, n_problems)
                       : kn_error(KN_ERR_NOMEM, "out of memory");
    free(dir);
    free(buf);
    return st;
}

kn_status kn_onnx_load(const char *path, kn_graph **out)
{
    return load_file(path, false, out, NULL, 0, NULL);
}

kn_status kn_onnx_load_report(const char *path, kn_graph **out, char *report, size_t report_size, int *n_problems)
{
    return load_file(path, true, out, report, report_size, n_problems);
}
