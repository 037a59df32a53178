/* Level 2: a 1x1 Conv, unpadded, with the strides of another convolution of the same
 * input and as many output channels (a ResNet block's projection shortcut beside the
 * block's first 3x3) becomes the side output of that convolution's kiln.FusedConv
 * (inputs Ws, Bs; output 1). The packed CPU kernel then computes it while the input rows
 * are in cache, in the same parallel region: resnet_small's downsampling block at batch 1,
 * /tmp harness of 2026-11-27 ~19:14, 2 threads: 21 us for the pair run apart, 16 us
 * together. Matches only a plain Conv side (no activation, residual or pooling) with
 * constant weights, beside a 2-D, group-1 Conv/FusedConv with constant weights and no
 * residual Z or pooling, whose outputs have the same static shape. Export writes the
 * side back as its own Conv. */
#include "nn/passes/passes.h"
#include "nn/op.h"

#include <stdlib.h>
#include <string.h>

static bool is_op(const kn_node *n, const char *domain, const char *op)
{
    return !strcmp(n->domain, domain) && !strcmp(n->op_type, op);
}

/* Attribute `name` absent, or `count` values all `want`. */
static bool ints_all(const kn_node *n, const char *name, int64_t want, int count)
{
    int64_t v[8];
    int got = -1;
    if (kn_attr_ints(n, name, v, 8, &got) != KN_OK) return false;
    if (got < 0) return true;
    if (got != count) return false;
    for (int i = 0; i < got; i++)
        if (v[i] != want) return false;
    return true;
}

static bool strides_of(const kn_node *n, int64_t s[2])
{
    int got = -1;
    s[0] = s[1] = 1;
    return kn_attr_ints(n, "strides", s, 2, &got) == KN_OK && (got < 0 || got == 2);
}

static bool group_one(const kn_node *n)
{
    int64_t group = 0;
    return kn_attr_int(n, "group", 1, &group) == KN_OK && group == 1;
}

/* The main convolution: 2-D, group 1, constant W, no residual, pooling or side yet. */
static bool main_ok(const kn_graph *g, const kn_node *m)
{
    const bool fused = is_op(m, "kiln", "FusedConv");
    if (m->dead || !(fused || is_op(m, "", "Conv")) || m->n_outputs != 1 || m->n_inputs < 2 || m->n_inputs > 4) return false;
    if (m->n_inputs > 3 && m->inputs[3] >= 0) return false;
    if (kn_node_attr(m, "pool_kernel_shape")) return false;
    const int x = m->inputs[0], w = m->inputs[1];
    return x >= 0 && g->values[x].ndim == 4 && kn_pass_is_const(g, w) && g->values[w].ndim == 4 && group_one(m);
}

/* The side: a plain Conv of x, 1x1, unpadded, dilation 1, strides s, constant weights
 * with oc output channels, output shaped like `like`. */
static bool side_ok(const kn_graph *g, const kn_node *sn, int x, const int64_t s[2], int64_t oc, const kn_value *like)
{
    if (sn->dead || !is_op(sn, "", "Conv") || sn->n_outputs != 1 || sn->n_inputs < 2 || sn->n_inputs > 3) return false;
    if (sn->inputs[0] != x || !kn_pass_is_const(g, sn->inputs[1])) return false;
    if (sn->n_inputs == 3 && sn->inputs[2] >= 0 && !kn_pass_is_const(g, sn->inputs[2])) return false;
    const kn_value *w = &g->values[sn->inputs[1]];
    if (w->ndim != 4 || w->shape[0] != oc || w->shape[2] != 1 || w->shape[3] != 1) return false;
    const char *pad;
    if (kn_attr_string(sn, "auto_pad", "NOTSET", &pad) != KN_OK || (strcmp(pad, "NOTSET") && strcmp(pad, "VALID")))
        return false;
    int64_t ss[2];
    if (!strides_of(sn, ss) || ss[0] != s[0] || ss[1] != s[1]) return false;
    if (!ints_all(sn, "pads", 0, 4) || !ints_all(sn, "dilations", 1, 2) || !ints_all(sn, "kernel_shape", 1, 2)) return false;
    const kn_value *y = &g->values[sn->outputs[0]];
    return group_one(sn) && y->dtype == KN_FLOAT && kn_pass_same_static_shape(y, like);
}

/* Node mi takes si as its side: inputs [X, W, B, -, Ws, Bs], outputs [Y, Ys]. */
static kn_status absorb_side(kn_graph *g, int mi, int si)
{
    kn_node *m = &g->nodes[mi], *sn = &g->nodes[si];
    int *ins = realloc(m->inputs, sizeof(int) * 6);
    if (!ins) return kn_error(KN_ERR_NOMEM, "out of memory");
    m->inputs = ins;
    for (int j = m->n_inputs; j < 4; j++) ins[j] = KN_NO_VALUE;
    ins[4] = sn->inputs[1];
    ins[5] = sn->n_inputs > 2 ? sn->inputs[2] : KN_NO_VALUE;
    m->n_inputs = 6;
    int *outs = realloc(m->outputs, sizeof(int) * 2);
    if (!outs) return kn_error(KN_ERR_NOMEM, "out of memory");
    m->outputs = outs;
    const int ys = sn->outputs[0];
    outs[1] = ys;
    m->n_outputs = 2;
    g->values[ys].producer = mi;
    sn->dead = true;
    if (!is_op(m, "kiln", "FusedConv")) KN_TRY(kn_pass_set_op(g, mi, "kiln", "FusedConv"));
    return kn_pass_absorb_name(g, mi, g->nodes[si].name);
}

kn_status kn_pass_fuse_side_conv(kn_graph *g, int *changes)
{
    *changes = 0;
    for (int mi = 0; mi < g->n_nodes; mi++) {
        if (!main_ok(g, &g->nodes[mi])) continue;
        const kn_node *m = &g->nodes[mi];
        int64_t s[2];
        if (!strides_of(m, s)) continue;
        const int x = m->inputs[0];
        const int64_t oc = g->values[m->inputs[1]].shape[0];
        const kn_value *y = &g->values[m->outputs[0]];
        /* spatial dims known: an unknown one would match the side's unknown one while
         * the two formulas (padded window, 1x1) could still differ at run time */
        if (oc <= 0 || y->dtype != KN_FLOAT || y->ndim != 4 || y->shape[2] <= 0 || y->shape[3] <= 0) continue;
        for (int si = 0; si < g->n_nodes; si++) {
            if (si == mi || !side_ok(g, &g->nodes[si], x, s, oc, y)) continue;
            /* a 1x1 beside a 1x1 of the same geometry: either could be the main; take
             * the side only when the main has the larger window, or it comes first */
            const kn_value *mw = &g->values[m->inputs[1]];
            if (mw->shape[2] * mw->shape[3] == 1 && si < mi) continue;
            KN_TRY(absorb_side(g, mi, si));
            (*changes)++;
            break;
        }
    }
    return KN_OK;
}
