/* Level 1: remove nodes none of whose outputs is used or a graph output, to a
 * fixed point, then compact ids. */
#include "nn/passes/passes.h"

kn_status kn_pass_remove_dead(kn_graph *g, int *changes)
{
    *changes = 0;
    bool again = true;
    while (again) {
        again = false;
        for (int i = g->n_nodes - 1; i >= 0; i--) {
            kn_node *n = &g->nodes[i];
            if (n->dead) continue;
            bool used = false;
            for (int j = 0; j < n->n_outputs && !used; j++)
                used = kn_graph_is_output(g, n->outputs[j]) || kn_graph_consumers(g, n->outputs[j], NULL, 0) > 0;
            if (!used) {
                n->dead = true;
                (*changes)++;
                again = true;
            }
        }
    }
    return kn_graph_compact(g);
}
