/* Structural validation for `kiln check`: list every problem instead of
 * stopping at the first. Names first (dangling inputs, unproduced outputs,
 * untyped inputs), then order (cycles), then every node's type and shape
 * inference, carrying on past failing nodes. */
#include "nn/graph.h"
#include "nn/op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void note(char *report, size_t size, int *n, kn_status *first, kn_status st)
{
    (*n)++;
    if (*first == KN_OK) *first = st;
    size_t len = report ? strnlen(report, size) : 0;
    if (report && len + 1 < size) snprintf(report + len, size - len, "%s\n", kn_last_error());
}

kn_status kn_graph_validate(kn_graph *g, char *report, size_t report_size, int *n_problems)
{
    kn_status first = KN_OK;
    int n = 0;
    if (report && report_size) report[0] = 0;
    bool structural = false;
    for (int i = 0; i < g->n_nodes; i++) {
        const kn_node *nd = &g->nodes[i];
        if (nd->dead) continue;
        for (int j = 0; j < nd->n_inputs; j++) {
            int v = nd->inputs[j];
            if (v < 0) continue;
            const kn_value *val = &g->values[v];
            if (val->kind == KN_VALUE_INTERMEDIATE && (val->producer < 0 || g->nodes[val->producer].dead)) {
                note(report, report_size, &n, &first,
                     kn_node_error(nd, KN_ERR_INVALID, "input '%s' is produced by no node and is neither a graph input nor an initializer",
                                   val->name));
                structural = true;
            }
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        const kn_value *val = &g->values[g->outputs[i]];
        if (val->kind == KN_VALUE_INTERMEDIATE && (val->producer < 0 || g->nodes[val->producer].dead)) {
            note(report, report_size, &n, &first,
                 kn_error(KN_ERR_INVALID, "graph output '%s' is produced by no node", val->name));
            structural = true;
        }
    }
    for (int i = 0; i < g->n_inputs; i++) {
        const kn_value *val = &g->values[g->inputs[i]];
        if (val->dtype == KN_UNDEFINED)
            note(report, report_size, &n, &first, kn_error(KN_ERR_INVALID, "graph input '%s' has no element type", val->name));
    }
    if (!structural) {
        int *order = malloc(sizeof(int) * (size_t)(g->n_nodes ? g->n_nodes : 1)), count;
        if (!order) return kn_error(KN_ERR_NOMEM, "out of memory validating the graph");
        kn_status st = kn_graph_topo_order(g, order, &count);
        free(order);
        if (st != KN_OK) note(report, report_size, &n, &first, st);
        else {
            size_t len = report ? strnlen(report, report_size) : 0;
            st = kn_graph_infer_collect(g, report ? report + len : NULL, report ? report_size - len : 0, &n);
            if (first == KN_OK) first = st;
        }
    }
    if (n_problems) *n_problems = n;
    return first;
}
