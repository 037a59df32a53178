/* Level 1: MatMul(A[M,K], B const [K,N]) followed by Add(., C const [N] or
 * [1,N]) becomes one Gemm, so the bias rides in the GEMM epilogue. Applies only
 * when A is statically 2-D and the MatMul output feeds nothing else. */
#include "nn/passes/passes.h"

#include <stdlib.h>
#include <string.h>

kn_status kn_pass_matmul_add_to_gemm(kn_graph *g, int *changes)
{
    *changes = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        kn_node *mm = &g->nodes[i];
        if (mm->dead || strcmp(mm->op_type, "MatMul") || mm->n_inputs != 2) continue;
        int a = mm->inputs[0], b = mm->inputs[1], y = mm->outputs[0];
        if (a < 0 || b < 0 || g->values[a].ndim != 2 || !kn_pass_is_const(g, b) || g->values[b].data.ndim != 2 ||
            g->values[b].data.dtype != KN_FLOAT || kn_graph_is_output(g, y))
            continue;
        int ai = kn_pass_single_consumer(g, y);
        if (ai < 0) continue;
        kn_node *add = &g->nodes[ai];
        if (strcmp(add->op_type, "Add") || add->n_inputs != 2) continue;
        int c = add->inputs[0] == y ? add->inputs[1] : add->inputs[0];
        if (c == y || !kn_pass_is_const(g, c)) continue;
        const kn_tensor *ct = &g->values[c].data;
        int64_t n = g->values[b].data.shape[1];
        bool bias_ok = ct->dtype == KN_FLOAT && kn_tensor_numel(ct) == n && ct->ndim >= 1 && ct->ndim <= 2 &&
                       ct->shape[ct->ndim - 1] == n;
        if (!bias_ok) continue;
        KN_TRY(kn_pass_set_op(g, i, "", "Gemm"));
        int *ins = realloc(mm->inputs, sizeof(int) * 3);
        if (!ins) return kn_error(KN_ERR_NOMEM, "out of memory");
        mm = &g->nodes[i];
        mm->inputs = ins;
        mm->inputs[2] = c;
        mm->n_inputs = 3;
        KN_TRY(kn_pass_absorb_consumer(g, i, ai));
        (*changes)++;
    }
    return KN_OK;
}
