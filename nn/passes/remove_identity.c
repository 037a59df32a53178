/* Level 1: drop Identity and inference-mode Dropout. Consumers read the input
 * directly; when the removed output is a graph output, the producer of the
 * input is retargeted to write it so output names survive. */
#include "nn/passes/passes.h"

#include <string.h>

static bool removable(const kn_graph *g, const kn_node *n)
{
    if (!strcmp(n->op_type, "Identity")) return n->n_inputs == 1 && n->inputs[0] >= 0;
    if (strcmp(n->op_type, "Dropout")) return false;
    /* the mask output must be unused; training_mode, if given, must be a constant false */
    if (n->n_outputs > 1 && kn_graph_consumers(g, n->outputs[1], NULL, 0) > 0) return false;
    if (n->n_outputs > 1 && kn_graph_is_output(g, n->outputs[1])) return false;
    if (n->n_inputs >= 3 && n->inputs[2] >= 0) {
        if (!kn_pass_is_const(g, n->inputs[2])) return false;
        const kn_tensor *t = &g->values[n->inputs[2]].data;
        if (kn_tensor_numel(t) != 1 || kn_tensor_get_i64(t, 0) != 0) return false;
    }
    return true;
}

kn_status kn_pass_remove_identity(kn_graph *g, int *changes)
{
    *changes = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        kn_node *n = &g->nodes[i];
        if (n->dead || !removable(g, n)) continue;
        int x = n->inputs[0], y = n->outputs[0];
        if (!kn_graph_is_output(g, y)) {
            kn_pass_replace_uses(g, y, x);
        } else {
            int p = g->values[x].producer;
            if (p < 0 || kn_graph_is_output(g, x)) continue; /* an input or a second output: keep */
            kn_pass_replace_uses(g, x, y);
            for (int s = 0; s < g->nodes[p].n_outputs; s++)
                if (g->nodes[p].outputs[s] == x) {
                    g->values[y].producer = -1;
                    kn_pass_retarget_output(g, p, s, y);
                }
        }
        n->dead = true;
        (*changes)++;
    }
    return KN_OK;
}
