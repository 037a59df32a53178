/* Level 2: fold inference BatchNormalization into the preceding Conv or Gemm:
 *   s = scale / sqrt(var + eps);  W' = W * s (per output channel);  b' = (b - mean) * s + bias
 * Preconditions (as ONNX Runtime's conv_bn_fusion): the Conv/Gemm output feeds
 * only the BN and is not a graph output; W, b and all BN inputs are constant;
 * BN has a single output. Epsilon is read from the model. New weight tensors
 * are made; the shared originals are untouched. */
#include "nn/passes/passes.h"
#include "nn/op.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kn_status fold_one(kn_graph *g, int pi, int bi)
{
    kn_node *p = &g->nodes[pi], *bn = &g->nodes[bi];
    float eps;
    KN_TRY(kn_attr_float(bn, "epsilon", 1e-5f, &eps));
    const float *scale = g->values[bn->inputs[1]].data.data, *bias = g->values[bn->inputs[2]].data.data;
    const float *mean = g->values[bn->inputs[3]].data.data, *var = g->values[bn->inputs[4]].data.data;
    const kn_tensor *w = &g->values[p->inputs[1]].data;
    bool is_gemm = !strcmp(p->op_type, "Gemm");
    int64_t trans_b = 0;
    if (is_gemm) KN_TRY(kn_attr_int(p, "transB", 0, &trans_b));
    int64_t cout = is_gemm ? (trans_b ? w->shape[0] : w->shape[1]) : w->shape[0];
    int64_t per = kn_tensor_numel(w) / cout;
    const float *old_b = p->n_inputs > 2 && p->inputs[2] >= 0 ? g->values[p->inputs[2]].data.data : NULL;
    kn_tensor nw, nb;
    KN_TRY(kn_tensor_init(&nw, KN_FLOAT, w->ndim, w->shape));
    kn_status st = kn_tensor_init(&nb, KN_FLOAT, 1, &cout);
    if (st != KN_OK) { kn_tensor_release(&nw); return st; }
    float *W = nw.data, *B = nb.data;
    const float *W0 = w->data;
    for (int64_t o = 0; o < cout; o++) {
        float s = scale[o] / sqrtf(var[o] + eps);
        B[o] = ((old_b ? old_b[o] : 0.0f) - mean[o]) * s + bias[o];
        if (!is_gemm || trans_b)
            for (int64_t k = 0; k < per; k++) W[o * per + k] = W0[o * per + k] * s;
        else /* Gemm with W [K, N]: scale column o */
            for (int64_t k = 0; k < per; k++) W[k * cout + o] = W0[k * cout + o] * s;
    }
    char name[256];
    int wid, bid;
    snprintf(name, sizeof name, "%s.folded_weight", bn->name);
    if ((st = kn_pass_add_const(g, name, &nw, &wid)) != KN_OK) { kn_tensor_release(&nw); kn_tensor_release(&nb); return st; }
    snprintf(name, sizeof name, "%s.folded_bias", bn->name);
    if ((st = kn_pass_add_const(g, name, &nb, &bid)) != KN_OK) { kn_tensor_release(&nb); return st; }
    p = &g->nodes[pi];
    bn = &g->nodes[bi];
    if (p->n_inputs < 3) {
        int *ins = realloc(p->inputs, sizeof(int) * 3);
        if (!ins) return kn_error(KN_ERR_NOMEM, "out of memory");
        p->inputs = ins;
        p->n_inputs = 3;
    }
    p->inputs[1] = wid;
    p->inputs[2] = bid;
    return kn_pass_absorb_consumer(g, pi, bi);
}

kn_status kn_pass_fold_batchnorm(kn_graph *g, int *changes)
{
    *changes = 0;
    for (int bi = 0; bi < g->n_nodes; bi++) {
        kn_node *bn = &g->nodes[bi];
        if (bn->dead || strcmp(bn->op_type, "BatchNormalization") || bn->n_inputs != 5) continue;
        if (bn->n_outputs > 1) {
            bool extra = false;
            for (int j = 1; j < bn->n_outputs; j++)
                extra |= kn_graph_consumers(g, bn->outputs[j], NULL, 0) > 0 || kn_graph_is_output(g, bn->outputs[j]);
            if (extra) continue;
        }
        int64_t training_mode = 0;
        KN_TRY(kn_attr_int(bn, "training_mode", 0, &training_mode));
        if (training_mode) continue;
        bool consts = true;
        for (int j = 1; j < 5; j++) {
            int v = bn->inputs[j];
            consts &= kn_pass_is_const(g, v) && g->values[v].data.dtype == KN_FLOAT && g->values[v].data.ndim == 1;
        }
        int x = bn->inputs[0];
        int pi = x >= 0 ? g->values[x].producer : -1;
        if (!consts || pi < 0 || kn_graph_is_output(g, x) || kn_pass_single_consumer(g, x) != bi) continue;
        kn_node *p = &g->nodes[pi];
        bool conv = !strcmp(p->op_type, "Conv"), gemm = !strcmp(p->op_type, "Gemm");
        if (!(conv || gemm) || p->n_inputs < 2 || !kn_pass_is_const(g, p->inputs[1])) continue;
        if (p->n_inputs > 2 && p->inputs[2] >= 0 && !kn_pass_is_const(g, p->inputs[2])) continue;
        const kn_tensor *w = &g->values[p->inputs[1]].data;
        if (w->dtype != KN_FLOAT) continue;
        int64_t c = g->values[bn->inputs[1]].data.shape[0];
        if (gemm) {
            float alpha = 1, beta = 1;
            int64_t ta = 0, tb = 0;
            KN_TRY(kn_attr_float(p, "alpha", 1, &alpha));
            KN_TRY(kn_attr_float(p, "beta", 1, &beta));
            KN_TRY(kn_attr_int(p, "transA", 0, &ta));
            KN_TRY(kn_attr_int(p, "transB", 0, &tb));
            if (alpha != 1 || beta != 1 || w->ndim != 2 || (tb ? w->shape[0] : w->shape[1]) != c) continue;
            if (p->n_inputs > 2 && p->inputs[2] >= 0 && kn_tensor_numel(&g->values[p->inputs[2]].data) != c) continue;
        } else {
            if (w->shape[0] != c) continue;
            if (p->n_inputs > 2 && p->inputs[2] >= 0 && kn_tensor_numel(&g->values[p->inputs[2]].data) != c) continue;
        }
        KN_TRY(fold_one(g, pi, bi));
        (*changes)++;
    }
    return KN_OK;
}
