/* Level 2: store a Gemm's constant B already transposed. Exporters write Linear layers
 * as Gemm(transB=1) with W [N, K]; OpenBLAS packs a transposed B more slowly than a
 * plain one on every call, and the weights of an inference graph never change, so the
 * pass transposes them once: a new initializer W^T [K, N] (initializers are never changed
 * in place: they may be shared) and transB=0. The result is a standard ONNX Gemm.
 * Only for N a multiple of 16: then the plain B wins or ties at every batch measured,
 * while for other widths it loses at small batches (`make micro`, one thread, NT / NN us:
 * 64 x 784 -> 128: 109 / 93; 64 x 128 -> 64: 9.8 / 5.2; 1 x 784 -> 128: 2.45 / 2.50;
 * 1 x 400 -> 120: 1.24 / 2.33; 64 -> 10 loses at every batch). */
#include "nn/passes/passes.h"

#include <stdio.h>
#include <string.h>

static kn_status transpose_b(kn_graph *g, int ni, bool *changed)
{
    kn_node *n = &g->nodes[ni];
    int64_t tb = 0;
    *changed = false;
    KN_TRY(kn_attr_int(n, "transB", 0, &tb));
    if (!tb || n->n_inputs < 2 || n->inputs[1] < 0 || !kn_pass_is_const(g, n->inputs[1])) return KN_OK;
    const kn_tensor *b = &g->values[n->inputs[1]].data;
    if (b->dtype != KN_FLOAT || b->ndim != 2 || !b->data) return KN_OK;
    const int64_t rows = b->shape[0], cols = b->shape[1], shape[2] = {cols, rows};
    if (rows % 16) return KN_OK;
    kn_tensor t;
    KN_TRY(kn_tensor_init(&t, KN_FLOAT, 2, shape));
    const float *src = b->data;
    float *dst = t.data;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) dst[j * rows + i] = src[i * cols + j];
    char name[256];
    snprintf(name, sizeof name, "%s_T", g->values[n->inputs[1]].name);
    int id;
    kn_status st = kn_pass_add_const(g, name, &t, &id);
    if (st != KN_OK) {
        kn_tensor_release(&t);
        return st;
    }
    n = &g->nodes[ni]; /* adding a value may move the arrays */
    n->inputs[1] = id;
    KN_TRY(kn_node_set_int(g, ni, "transB", 0));
    *changed = true;
    return KN_OK;
}

kn_status kn_pass_pretranspose_gemm(kn_graph *g, int *changes)
{
    *changes = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const kn_node *n = &g->nodes[i];
        if (n->dead || (strcmp(n->op_type, "Gemm") && strcmp(n->op_type, "FusedGemm"))) continue;
        bool changed;
        KN_TRY(transpose_b(g, i, &changed));
        *changes += changed;
    }
    return KN_OK;
}
