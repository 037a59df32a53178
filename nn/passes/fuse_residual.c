/* Level 2: Conv whose output is added to another tensor of the same shape
 * (a residual branch) becomes kiln.FusedConv with that tensor as input Z, so
 * the add happens in the convolution's epilogue. fuse_activation may then
 * absorb a following Relu. */
#include "nn/passes/passes.h"

#include <stdlib.h>
#include <string.h>

kn_status kn_pass_fuse_residual(kn_graph *g, int *changes)
{
    *changes = 0;
    for (int ai = 0; ai < g->n_nodes; ai++) {
        kn_node *add = &g->nodes[ai];
        if (add->dead || strcmp(add->op_type, "Add") || add->n_inputs != 2) continue;
        for (int side = 0; side < 2; side++) {
            int y = add->inputs[side], z = add->inputs[1 - side];
            int ci = y >= 0 ? g->values[y].producer : -1;
            if (ci < 0 || z < 0 || y == z || kn_graph_is_output(g, y) || kn_pass_single_consumer(g, y) != ai) continue;
            kn_node *conv = &g->nodes[ci];
            if (strcmp(conv->op_type, "Conv") || conv->n_outputs != 1) continue;
            if (!kn_pass_same_static_shape(&g->values[y], &g->values[z]) || g->values[z].dtype != KN_FLOAT) continue;
            /* Z must be computed before the conv runs; any value not produced downstream of the conv is.
             * The session orders by data dependencies, so adding z as an input keeps the graph acyclic
             * unless z depends on y — impossible here since y's only consumer is this Add. */
            int n_in = conv->n_inputs;
            int *ins = realloc(conv->inputs, sizeof(int) * 4);
            if (!ins) return kn_error(KN_ERR_NOMEM, "out of memory");
            conv->inputs = ins;
            for (int j = n_in; j < 3; j++) ins[j] = KN_NO_VALUE;
            ins[3] = z;
            conv->n_inputs = 4;
            KN_TRY(kn_pass_set_op(g, ci, "kiln", "FusedConv"));
            KN_TRY(kn_pass_absorb_consumer(g, ci, ai));
            (*changes)++;
            break;
        }
    }
    return KN_OK;
}
