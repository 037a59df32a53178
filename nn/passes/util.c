/* Small graph-rewrite helpers shared by the passes. */
#include "nn/passes/passes.h"
#include "nn/op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kn_pass_single_consumer(const kn_graph *g, int v)
{
    int node = -1, uses = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const kn_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int j = 0; j < n->n_inputs; j++)
            if (n->inputs[j] == v) {
                uses++;
                node = i;
            }
    }
    return uses == 1 ? node : -1;
}

bool kn_pass_same_static_shape(const kn_value *a, const kn_value *b)
{
    if (a->ndim < 0 || a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false; /* unknown dims (-1) match only when both derive from the batch */
    return true;
}

bool kn_pass_is_const(const kn_graph *g, int v)
{
    return v >= 0 && (g->values[v].kind == KN_VALUE_CONST || g->values[v].kind == KN_VALUE_PARAM) &&
           g->values[v].data.data;
}

void kn_pass_replace_uses(kn_graph *g, int from, int to)
{
    for (int i = 0; i < g->n_nodes; i++) {
        kn_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int j = 0; j < n->n_inputs; j++)
            if (n->inputs[j] == from) n->inputs[j] = to;
    }
}

void kn_pass_retarget_output(kn_graph *g, int n, int slot, int v)
{
    int old = g->nodes[n].outputs[slot];
    g->values[old].producer = -1;
    g->nodes[n].outputs[slot] = v;
    g->values[v].producer = n;
}

kn_status kn_pass_absorb_consumer(kn_graph *g, int n, int consumer)
{
    kn_node *c = &g->nodes[consumer];
    const int out = c->outputs[0];
    c->dead = true;
    g->values[out].producer = -1;
    kn_pass_retarget_output(g, n, 0, out);
    return kn_pass_absorb_name(g, n, c->name);
}

kn_status kn_pass_absorb_name(kn_graph *g, int n, const char *absorbed)
{
    kn_node *nd = &g->nodes[n];
    size_t len = strlen(nd->name) + strlen(absorbed) + 2;
    char *s = malloc(len);
    if (!s) return kn_error(KN_ERR_NOMEM, "out of memory");
    snprintf(s, len, "%s+%s", nd->name, absorbed);
    free(nd->name);
    nd->name = s;
    return KN_OK;
}

kn_status kn_pass_set_op(kn_graph *g, int n, const char *domain, const char *op_type)
{
    kn_node *nd = &g->nodes[n];
    const kn_op_def *op = kn_op_find(domain, op_type);
    if (!op) return kn_error(KN_ERR_INTERNAL, "pass wants op %s.%s, which is not registered", domain, op_type);
    char *t = strdup(op_type), *d = strdup(domain);
    if (!t || !d) {
        free(t);
        free(d);
        return kn_error(KN_ERR_NOMEM, "out of memory");
    }
    free(nd->op_type);
    free(nd->domain);
    nd->op_type = t;
    nd->domain = d;
    nd->op = op;
    return KN_OK;
}

kn_status kn_pass_add_const(kn_graph *g, const char *base_name, kn_tensor *t, int *id)
{
    char name[256];
    int k = 0;
    snprintf(name, sizeof name, "%s", base_name);
    while (kn_graph_find_value(g, name) >= 0 && ++k < 1000000) snprintf(name, sizeof name, "%s_%d", base_name, k);
    return kn_graph_add_initializer(g, name, t, KN_VALUE_CONST, id);
}
