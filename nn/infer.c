/* Static shape and dtype inference over a whole graph. Walks the nodes in
 * topological order through each op's infer; small deterministic nodes whose
 * inputs are all known (initializers, or shapes made concrete) are evaluated
 * so the Shape -> Gather -> Concat -> Reshape chains exporters emit resolve
 * to concrete shapes. Nodes whose inputs are not known well enough leave their
 * outputs unknown (rank -1) rather than guessing. */
#include "nn/op.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define EVAL_MAX_ELEMS 65536 /* evaluate only small tensors while inferring */

static bool shape_known(const kn_tensor *t)
{
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] < 0) return false;
    return true;
}

/* Append the current error to report (kn_graph_infer_collect). */
static void collect(char *report, size_t size, int *n_problems)
{
    (*n_problems)++;
    size_t len = report ? strnlen(report, size) : 0;
    if (report && len + 1 < size) snprintf(report + len, size - len, "%s\n", kn_last_error());
}

/* report_mode: a node whose infer fails is recorded and its outputs stay unknown,
 * so every node is looked at; otherwise the first failure is returned. */
static kn_status infer_run(kn_graph *g, bool report_mode, char *report, size_t report_size, int *n_problems)
{
    kn_status first = KN_OK;
    int *order = malloc(sizeof(int) * (size_t)(g->n_nodes ? g->n_nodes : 1));
    kn_tensor *info = calloc((size_t)(g->n_values ? g->n_values : 1), sizeof *info);
    bool *known = calloc((size_t)(g->n_values ? g->n_values : 1), sizeof *known);
    kn_status st = KN_OK;
    int count = 0;
    if (!order || !info || !known) { st = kn_error(KN_ERR_NOMEM, "out of memory inferring shapes"); goto done; }
    if ((st = kn_graph_topo_order(g, order, &count)) != KN_OK) goto done;
    for (int v = 0; v < g->n_values; v++) {
        kn_value *val = &g->values[v];
        if (val->kind == KN_VALUE_PARAM || val->kind == KN_VALUE_CONST) {
            if ((st = kn_tensor_view(&info[v], &val->data, val->data.ndim, val->data.shape, 0)) != KN_OK) goto done;
            known[v] = true;
        } else if (val->kind == KN_VALUE_INPUT && val->ndim >= 0 && val->dtype != KN_UNDEFINED) {
            kn_tensor_meta(&info[v], val->dtype, val->ndim, val->shape);
            known[v] = true;
        }
    }
    for (int oi = 0; oi < count; oi++) {
        kn_node *n = &g->nodes[order[oi]];
        kn_tensor *in[64], outs[64], *out[64];
        bool ok = n->n_inputs <= 64 && n->n_outputs <= 64, all_data = true;
        for (int i = 0; ok && i < n->n_inputs; i++) {
            int v = n->inputs[i];
            in[i] = v >= 0 ? &info[v] : NULL;
            if (v >= 0 && !known[v]) ok = false;
            if (v >= 0 && known[v] && !info[v].data) {
                all_data = false;
                if (n->op->infer_data >> i & 1) ok = false;
            }
        }
        if (!ok) continue; /* outputs stay unknown */
        for (int i = 0; i < n->n_outputs; i++) out[i] = &outs[i];
        bool meta_ok = (n->op->flags & KN_OP_META_ONLY) && n->n_inputs > 0 && in[0] && shape_known(in[0]);
        bool eval = !(n->op->flags & KN_OP_NONDETERMINISTIC) && (all_data || meta_ok);
        if ((st = kn_node_infer(g, n, in, out)) != KN_OK) {
            if (!report_mode) goto done;
            collect(report, report_size, n_problems);
            if (first == KN_OK) first = st;
            st = KN_OK;
            for (int i = 0; i < n->n_outputs; i++) kn_tensor_release(&outs[i]);
            continue;
        }
        for (int i = 0; i < n->n_outputs && eval; i++) {
            int64_t ne;
            if (outs[i].dtype != KN_UNDEFINED &&
                (!shape_known(&outs[i]) || kn_shape_numel(outs[i].ndim, outs[i].shape, &ne) != KN_OK ||
                 ne > EVAL_MAX_ELEMS))
                eval = false;
        }
        if (eval) {
            kn_tensor tmp[64];
            if (kn_node_eval(g, n, in, tmp) == KN_OK)
                memcpy(outs, tmp, sizeof(kn_tensor) * (size_t)n->n_outputs);
            else
                kn_clear_error(); /* evaluation is an optimisation; infer already succeeded */
        }
        for (int i = 0; i < n->n_outputs; i++) {
            int v = n->outputs[i];
            if (outs[i].dtype == KN_UNDEFINED) continue;
            kn_tensor_release(&info[v]);
            info[v] = outs[i];
            known[v] = true;
            kn_value *val = &g->values[v];
            val->dtype = outs[i].dtype;
            val->ndim = outs[i].ndim;
            for (int d = 0; d < outs[i].ndim; d++) val->shape[d] = outs[i].shape[d];
        }
    }
done:
    if (info)
        for (int v = 0; v < g->n_values; v++) kn_tensor_release(&info[v]);
    free(info);
    free(known);
    free(order);
    return st != KN_OK ? st : first;
}

kn_status kn_graph_infer_shapes(kn_graph *g)
{
    return infer_run(g, false, NULL, 0, NULL);
}

kn_status kn_graph_infer_collect(kn_graph *g, char *report, size_t report_size, int *n_problems)
{
    int n = 0;
    kn_status st = infer_run(g, true, report, report_size, &n);
    if (n_problems) *n_problems += n;
    return st;
}
