/* Level 2: Conv / FusedConv / Gemm followed by an activation the kernels'
 * epilogue implements (Relu, LeakyRelu, Clip with constant bounds, Sigmoid,
 * HardSwish, Tanh) become kiln.FusedConv / kiln.FusedGemm carrying it. */
#include "nn/passes/passes.h"
#include "nn/op.h"

#include <stdio.h>
#include <string.h>

/* Parameters of a supported activation node; false when it can't be fused. */
static bool activation_params(const kn_graph *g, const kn_node *a, float p[2], int *np)
{
    *np = 0;
    if (!strcmp(a->op_type, "Relu") || !strcmp(a->op_type, "Sigmoid") || !strcmp(a->op_type, "HardSwish") ||
        !strcmp(a->op_type, "Tanh"))
        return a->n_inputs == 1;
    if (!strcmp(a->op_type, "LeakyRelu")) {
        if (kn_attr_float(a, "alpha", 0.01f, &p[0]) != KN_OK) return false;
        *np = 1;
        return true;
    }
    if (!strcmp(a->op_type, "Clip")) {
        p[0] = -3.402823466e38f;
        p[1] = 3.402823466e38f;
        if (g->opset < 11) {
            if (kn_attr_float(a, "min", p[0], &p[0]) != KN_OK || kn_attr_float(a, "max", p[1], &p[1]) != KN_OK) return false;
        } else {
            for (int j = 1; j < a->n_inputs && j < 3; j++) {
                int v = a->inputs[j];
                if (v < 0) continue;
                if (!kn_pass_is_const(g, v) || kn_tensor_numel(&g->values[v].data) != 1 ||
                    g->values[v].data.dtype != KN_FLOAT)
                    return false;
                p[j - 1] = ((const float *)g->values[v].data.data)[0];
            }
        }
        *np = 2;
        return true;
    }
    return false;
}

kn_status kn_pass_fuse_activation(kn_graph *g, int *changes)
{
    *changes = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        kn_node *p = &g->nodes[i];
        if (p->dead || p->n_outputs != 1) continue;
        bool conv = !strcmp(p->op_type, "Conv") || (!strcmp(p->op_type, "FusedConv") && !strcmp(p->domain, "kiln"));
        bool gemm = !strcmp(p->op_type, "Gemm");
        if (!conv && !gemm) continue;
        if (kn_node_attr(p, "activation")) continue; /* already fused */
        int y = p->outputs[0];
        int ai = kn_pass_single_consumer(g, y);
        if (ai < 0 || kn_graph_is_output(g, y) || g->values[y].dtype != KN_FLOAT) continue;
        kn_node *a = &g->nodes[ai];
        float params[2];
        int np;
        if (a->inputs[0] != y || !activation_params(g, a, params, &np)) continue;
        char act[32];
        snprintf(act, sizeof act, "%s", a->op_type);
        KN_TRY(kn_pass_set_op(g, i, "kiln", conv ? "FusedConv" : "FusedGemm"));
        KN_TRY(kn_node_set_string(g, i, "activation", act));
        if (np) KN_TRY(kn_node_set_floats(g, i, "activation_params", np, params));
        KN_TRY(kn_pass_absorb_consumer(g, i, ai));
        (*changes)++;
    }
    return KN_OK;
}
