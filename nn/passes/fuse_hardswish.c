/* Level 2: x * HardSigmoid(x; alpha 1/6, beta 1/2) is HardSwish(x). Opset < 14
 * exporters (PyTorch's included) write HardSwish that way; as one op it is one
 * pass over memory instead of two, and fuse_activation can then fold it into
 * the preceding convolution's epilogue. */
#include "nn/passes/passes.h"
#include "nn/op.h"

#include <math.h>
#include <string.h>

kn_status kn_pass_fuse_hardswish(kn_graph *g, int *changes)
{
    *changes = 0;
    for (int hi = 0; hi < g->n_nodes; hi++) {
        kn_node *h = &g->nodes[hi];
        if (h->dead || strcmp(h->op_type, "HardSigmoid") || h->n_inputs != 1 || h->inputs[0] < 0) continue;
        float alpha, beta;
        KN_TRY(kn_attr_float(h, "alpha", 0.2f, &alpha));
        KN_TRY(kn_attr_float(h, "beta", 0.5f, &beta));
        if (fabsf(alpha - 1.0f / 6.0f) > 1e-6f || fabsf(beta - 0.5f) > 1e-6f) continue;
        int x = h->inputs[0], s = h->outputs[0];
        int mi = kn_pass_single_consumer(g, s);
        if (mi < 0 || kn_graph_is_output(g, s)) continue;
        kn_node *m = &g->nodes[mi];
        if (strcmp(m->op_type, "Mul") || m->n_inputs != 2) continue;
        if (!((m->inputs[0] == x && m->inputs[1] == s) || (m->inputs[0] == s && m->inputs[1] == x))) continue;
        /* the Mul becomes HardSwish(x); the HardSigmoid goes */
        KN_TRY(kn_pass_set_op(g, mi, "", "HardSwish"));
        m = &g->nodes[mi];
        m->inputs[0] = x;
        m->n_inputs = 1;
        g->nodes[hi].dead = true;
        KN_TRY(kn_pass_absorb_name(g, mi, g->nodes[hi].name));
        (*changes)++;
    }
    return KN_OK;
}
