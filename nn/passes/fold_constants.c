/* Level 1: evaluate every deterministic node whose inputs are all constant
 * (or, for shape-only ops like Shape, whose input shape is fully known) on the
 * CPU and replace its outputs by initializers. Outputs above a size cap are
 * left alone so folding can't blow up the model (ONNX Runtime does the same). */
#include "nn/passes/passes.h"
#include "nn/op.h"

#include <stdlib.h>
#include <string.h>

#define FOLD_MAX_BYTES (64u << 20)

static bool static_shape_known(const kn_value *v)
{
    if (v->ndim < 0) return false;
    for (int i = 0; i < v->ndim; i++)
        if (v->shape[i] < 0) return false;
    return true;
}

kn_status kn_pass_fold_constants(kn_graph *g, int *changes)
{
    int count, *order = malloc(sizeof(int) * (size_t)(g->n_nodes ? g->n_nodes : 1));
    if (!order) return kn_error(KN_ERR_NOMEM, "out of memory");
    kn_status st = kn_graph_topo_order(g, order, &count);
    *changes = 0;
    for (int oi = 0; st == KN_OK && oi < count; oi++) {
        int ni = order[oi];
        kn_node *n = &g->nodes[ni];
        if (n->op->flags & KN_OP_NONDETERMINISTIC || n->n_outputs > 16 || n->n_inputs > 16) continue;
        bool meta = (n->op->flags & KN_OP_META_ONLY) && n->n_inputs >= 1 && n->inputs[0] >= 0 &&
                    static_shape_known(&g->values[n->inputs[0]]);
        bool foldable = n->n_inputs > 0 || !strcmp(n->op_type, "Constant");
        for (int j = 0; j < n->n_inputs && foldable; j++) {
            int v = n->inputs[j];
            if (v < 0) continue;
            if (!kn_pass_is_const(g, v) && !(meta && j == 0)) foldable = false;
        }
        if (!foldable) continue;
        kn_tensor views[16], *in[16], outs[16];
        for (int j = 0; j < n->n_inputs; j++) {
            int v = n->inputs[j];
            in[j] = NULL;
            if (v < 0) continue;
            const kn_value *val = &g->values[v];
            if (val->data.data)
                st = kn_tensor_view(&views[j], &val->data, val->data.ndim, val->data.shape, 0);
            else
                st = kn_tensor_meta(&views[j], val->dtype, val->ndim, val->shape);
            if (st != KN_OK) break;
            in[j] = &views[j];
        }
        kn_status est = st == KN_OK ? kn_node_eval(g, n, in, outs) : st;
        for (int j = 0; j < n->n_inputs; j++)
            if (in[j]) kn_tensor_release(&views[j]);
        if (st != KN_OK) break;
        if (est != KN_OK) { /* not foldable after all (e.g. unsupported dtype): leave it */
            kn_clear_error();
            continue;
        }
        size_t bytes = 0;
        bool all_out = true;
        for (int j = 0; j < n->n_outputs; j++) {
            bytes += outs[j].data ? kn_tensor_bytes(&outs[j]) : 0;
            all_out &= outs[j].data != NULL || g->values[n->outputs[j]].producer < 0;
        }
        if (bytes > FOLD_MAX_BYTES || !all_out) {
            for (int j = 0; j < n->n_outputs; j++) kn_tensor_release(&outs[j]);
            continue;
        }
        for (int j = 0; j < n->n_outputs; j++) {
            kn_value *val = &g->values[n->outputs[j]];
            val->kind = KN_VALUE_CONST;
            val->producer = -1;
            kn_tensor_release(&val->data);
            val->data = outs[j];
            val->dtype = outs[j].dtype;
            val->ndim = outs[j].ndim;
            for (int d = 0; d < outs[j].ndim; d++) val->shape[d] = outs[j].shape[d];
        }
        n->dead = true;
        (*changes)++;
    }
    free(order);
    return st;
}
