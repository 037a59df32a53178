/* Level 2: a Conv or FusedConv whose only consumer is a 2-D MaxPool without padding,
 * dilation or ceil mode (LeNet's conv -> BN -> ReLU -> pool, once BN and ReLU are folded
 * and fused) takes the pooling into its epilogue: kiln.FusedConv with pool_kernel_shape
 * and pool_strides. The convolution's output then never goes to memory whole: each image
 * is convolved into a per-thread scratch and pooled from the cache. Not after a residual
 * Z, nor when the pool's Indices output is used. Export writes it back as Conv
 * [+ activation] + MaxPool. */
#include "nn/passes/passes.h"
#include "nn/op.h"

#include <string.h>

static bool all_equal(const kn_node *n, const char *attr, int64_t want, int count)
{
    int64_t v[8];
    int got = -1;
    if (kn_attr_ints(n, attr, v, 8, &got) != KN_OK) return false;
    if (got < 0) return true; /* absent: the default */
    if (got != count) return false;
    for (int i = 0; i < got; i++)
        if (v[i] != want) return false;
    return true;
}

/* The pool's window when it can be fused: 2-D, no padding, dilation 1, floor mode. */
static bool fusable_pool(const kn_node *p, int64_t kernel[2], int64_t strides[2])
{
    int nk = -1, ns = -1;
    int64_t ceil = 0, storage = 0;
    const char *pad;
    if (strcmp(p->op_type, "MaxPool") || strcmp(p->domain, "") || p->n_inputs != 1 || p->n_outputs != 1) return false;
    if (kn_attr_ints(p, "kernel_shape", kernel, 2, &nk) != KN_OK || nk != 2) return false;
    strides[0] = strides[1] = 1;
    if (kn_attr_ints(p, "strides", strides, 2, &ns) != KN_OK || (ns >= 0 && ns != 2)) return false;
    if (kn_attr_string(p, "auto_pad", "NOTSET", &pad) != KN_OK || (strcmp(pad, "NOTSET") && strcmp(pad, "VALID")))
        return false;
    if (kn_attr_int(p, "ceil_mode", 0, &ceil) != KN_OK || ceil) return false;
    if (kn_attr_int(p, "storage_order", 0, &storage) != KN_OK) return false;
    return all_equal(p, "pads", 0, 4) && all_equal(p, "dilations", 1, 2) && kernel[0] > 0 && kernel[1] > 0 &&
           strides[0] > 0 && strides[1] > 0;
}

kn_status kn_pass_fuse_pool(kn_graph *g, int *changes)
{
    *changes = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        kn_node *n = &g->nodes[i];
        const bool fused = !strcmp(n->op_type, "FusedConv") && !strcmp(n->domain, "kiln");
        if (n->dead || n->n_outputs != 1 || !(fused || (!strcmp(n->op_type, "Conv") && !strcmp(n->domain, ""))))
            continue;
        if (kn_node_attr(n, "pool_kernel_shape")) continue;               /* already pooled */
        if (n->n_inputs > 3 && n->inputs[3] >= 0) continue;                /* residual Z */
        if (n->inputs[0] < 0 || g->values[n->inputs[0]].ndim != 4) continue; /* 2-D convolutions */
        const int y = n->outputs[0];
        const int pi = kn_pass_single_consumer(g, y);
        if (pi < 0 || kn_graph_is_output(g, y) || g->values[y].dtype != KN_FLOAT) continue;
        int64_t kernel[2], strides[2];
        const kn_node *p = &g->nodes[pi];
        if (p->inputs[0] != y || !fusable_pool(p, kernel, strides)) continue;
        if (!fused) KN_TRY(kn_pass_set_op(g, i, "kiln", "FusedConv"));
        KN_TRY(kn_node_set_ints(g, i, "pool_kernel_shape", 2, kernel));
        KN_TRY(kn_node_set_ints(g, i, "pool_strides", 2, strides));
        KN_TRY(kn_pass_absorb_consumer(g, i, pi));
        (*changes)++;
    }
    return KN_OK;
}
