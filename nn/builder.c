/* Layer builders over the graph IR (see builder.h for the error protocol). */
#include "nn/builder.h"
#include "nn/op.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

kn_status kn_graph_status(const kn_graph *g) { return g->sticky; }
void kn_graph_seed(kn_graph *g, uint64_t seed) { kn_rng_seed(&g->rng, seed); }

/* Record the first failure; later builders see -1 and stop. */
static int fail(kn_graph *g, kn_status st)
{
    if (g->sticky == KN_OK) g->sticky = st;
    return -1;
}

static bool bad(const kn_graph *g, int x) { return g->sticky != KN_OK || x < 0 || x >= g->n_values; }

/* Static inference for one freshly added node, so the next layer can read
 * its input's shape (in_features, channels). */
static kn_status infer_node(kn_graph *g, int node)
{
    kn_node *n = &g->nodes[node];
    kn_tensor views[16], outs[16], *in[16], *out[16];
    if (n->n_inputs > 16 || n->n_outputs > 16) return KN_OK;
    kn_status st = KN_OK;
    int made = 0;
    for (int i = 0; i < n->n_inputs; i++, made++) {
        int v = n->inputs[i];
        in[i] = NULL;
        if (v < 0) continue;
        kn_value *val = &g->values[v];
        if (val->ndim < 0 || val->dtype == KN_UNDEFINED) goto done; /* unknown: leave outputs unknown */
        if (val->data.data)
            st = kn_tensor_view(&views[i], &val->data, val->data.ndim, val->data.shape, 0);
        else
            st = kn_tensor_meta(&views[i], val->dtype, val->ndim, val->shape);
        if (st != KN_OK) goto done;
        in[i] = &views[i];
    }
    for (int i = 0; i < n->n_outputs; i++) out[i] = &outs[i];
    if ((st = kn_node_infer(g, n, in, out)) != KN_OK) goto done;
    for (int i = 0; i < n->n_outputs; i++) {
        kn_value *val = &g->values[n->outputs[i]];
        if (outs[i].dtype == KN_UNDEFINED) continue;
        val->dtype = outs[i].dtype;
        val->ndim = outs[i].ndim;
        for (int d = 0; d < outs[i].ndim; d++) val->shape[d] = outs[i].shape[d];
    }
done:
    for (int i = 0; i < made; i++)
        if (n->inputs[i] >= 0 && in[i]) kn_tensor_release(&views[i]);
    return st;
}

int kn_node1(kn_graph *g, const char *op, int n_in, const int *in, int *node_out)
{
    for (int i = 0; i < n_in; i++)
        if (in[i] != KN_NO_VALUE && bad(g, in[i])) return fail(g, g->sticky ? g->sticky : KN_ERR_INVALID);
    if (g->sticky != KN_OK) return -1;
    int y, node;
    kn_status st = kn_graph_add_value(g, NULL, KN_UNDEFINED, -1, NULL, &y);
    if (st == KN_OK) st = kn_graph_add_node(g, op, "", NULL, n_in, in, 1, &y, &node);
    if (st != KN_OK) return fail(g, st);
    if (node_out) *node_out = node;
    return y; /* shapes are inferred by kn_node_done once attributes are set */
}

int kn_node_done(kn_graph *g, int y)
{
    if (y < 0) return -1;
    kn_status st = infer_node(g, g->values[y].producer);
    return st == KN_OK ? y : fail(g, st);
}

static int set_status(kn_graph *g, kn_status st) { return st == KN_OK ? 0 : fail(g, st); }

int kn_input(kn_graph *g, const char *name, kn_dtype dtype, int ndim, const int64_t *shape)
{
    if (g->sticky != KN_OK) return -1;
    int v;
    kn_status st = kn_graph_add_input(g, name, dtype, ndim, shape, &v);
    for (int d = 0; st == KN_OK && d < ndim; d++)
        if (shape[d] < 0) st = kn_value_set_dim_param(g, v, d, "batch");
    return st == KN_OK ? v : fail(g, st);
}

int kn_output(kn_graph *g, int x)
{
    if (bad(g, x)) return fail(g, g->sticky ? g->sticky : KN_ERR_INVALID);
    kn_status st = kn_graph_add_output(g, x);
    return st == KN_OK ? x : fail(g, st);
}

static int add_param(kn_graph *g, const char *name, int ndim, const int64_t *shape, kn_value_kind kind,
                     float bound, float fill)
{
    if (g->sticky != KN_OK) return -1;
    kn_tensor t;
    kn_status st = kn_tensor_init(&t, KN_FLOAT, ndim, shape);
    if (st != KN_OK) return fail(g, st);
    float *d = t.data;
    for (int64_t i = 0; i < kn_tensor_numel(&t); i++)
        d[i] = bound > 0 ? bound * (2.0f * kn_rng_uniform(&g->rng) - 1.0f) : fill;
    int v;
    st = kn_graph_add_initializer(g, name, &t, kind, &v);
    if (st != KN_OK) {
        kn_tensor_release(&t);
        return fail(g, st);
    }
    return v;
}

int kn_param_uniform(kn_graph *g, const char *name, int ndim, const int64_t *shape, float bound)
{
    return add_param(g, name, ndim, shape, KN_VALUE_PARAM, bound, 0.0f);
}

int kn_param_fill(kn_graph *g, const char *name, int ndim, const int64_t *shape, float value, kn_value_kind kind)
{
    return add_param(g, name, ndim, shape, kind, 0.0f, value);
}

static int scalar_const(kn_graph *g, const char *base, const char *suffix, float value)
{
    char name[160];
    snprintf(name, sizeof name, "%s.%s", base, suffix);
    return kn_param_fill(g, name, 0, NULL, value, KN_VALUE_CONST);
}

/* Layer names: the caller's, else "<kind><count>". */
static const char *layer_name(kn_graph *g, const char *name, const char *kind, char *buf, size_t size)
{
    if (name) return name;
    snprintf(buf, size, "%s%d", kind, g->n_nodes);
    return buf;
}

static void rename_node(kn_graph *g, int y, const char *name)
{
    if (y < 0) return;
    kn_node *n = &g->nodes[g->values[y].producer];
    char *s = strdup(name);
    if (!s) { fail(g, kn_error(KN_ERR_NOMEM, "out of memory")); return; }
    free(n->name);
    n->name = s;
    /* the layer's output takes the layer's name too, when it is free */
    if (kn_graph_find_value(g, name) < 0 && kn_graph_rename_value(g, y, name) != KN_OK) fail(g, KN_ERR_NOMEM);
}

int kn_linear(kn_graph *g, int x, int64_t out_features, const char *name)
{
    char buf[64], pn[160];
    if (bad(g, x)) return fail(g, g->sticky ? g->sticky : KN_ERR_INVALID);
    const kn_value *xv = &g->values[x];
    if (xv->ndim != 2 || xv->shape[1] <= 0)
        return fail(g, kn_error(KN_ERR_SHAPE, "linear '%s': input '%s' must be [N, features] with known features",
                                name ? name : "?", xv->name));
    int64_t in_f = xv->shape[1];
    name = layer_name(g, name, "linear", buf, sizeof buf);
    float bound = 1.0f / sqrtf((float)in_f); /* PyTorch: kaiming_uniform(a=sqrt(5)) */
    snprintf(pn, sizeof pn, "%s.weight", name);
    int w = kn_param_uniform(g, pn, 2, (int64_t[]){out_features, in_f}, bound);
    snprintf(pn, sizeof pn, "%s.bias", name);
    int b = kn_param_uniform(g, pn, 1, (int64_t[]){out_features}, bound);
    int node, y = kn_node1(g, "Gemm", 3, (int[]){x, w, b}, &node);
    if (y < 0) return -1;
    set_status(g, kn_node_set_int(g, node, "transB", 1));
    rename_node(g, y, name);
    return kn_node_done(g, y);
}

kn_conv2d_opts kn_conv2d_defaults(int64_t kernel)
{
    kn_conv2d_opts o = {.kernel = kernel, .stride = 1, .pad = 0, .dilation = 1, .groups = 1, .bias = true};
    return o;
}

int kn_conv2d(kn_graph *g, int x, int64_t out_channels, const kn_conv2d_opts *o, const char *name)
{
    char buf[64], pn[160];
    if (bad(g, x)) return fail(g, g->sticky ? g->sticky : KN_ERR_INVALID);
    const kn_value *xv = &g->values[x];
    if (xv->ndim != 4 || xv->shape[1] <= 0)
        return fail(g, kn_error(KN_ERR_SHAPE, "conv2d '%s': input '%s' must be [N, C, H, W] with known C",
                                name ? name : "?", xv->name));
    int64_t c = xv->shape[1], groups = o->groups > 0 ? o->groups : 1;
    if (c % groups || out_channels % groups)
        return fail(g, kn_error(KN_ERR_SHAPE, "conv2d '%s': channels %lld -> %lld are not divisible by groups %lld",
                                name ? name : "?", (long long)c, (long long)out_channels, (long long)groups));
    name = layer_name(g, name, "conv", buf, sizeof buf);
    float bound = 1.0f / sqrtf((float)(c / groups * o->kernel * o->kernel));
    snprintf(pn, sizeof pn, "%s.weight", name);
    int w = kn_param_uniform(g, pn, 4, (int64_t[]){out_channels, c / groups, o->kernel, o->kernel}, bound);
    int b = KN_NO_VALUE;
    if (o->bias) {
        snprintf(pn, sizeof pn, "%s.bias", name);
        b = kn_param_uniform(g, pn, 1, (int64_t[]){out_channels}, bound);
    }
    int node, y = kn_node1(g, "Conv", o->bias ? 3 : 2, (int[]){x, w, b}, &node);
    if (y < 0) return -1;
    int64_t k2[2] = {o->kernel, o->kernel}, s2[2] = {o->stride, o->stride}, d2[2] = {o->dilation, o->dilation};
    int64_t p4[4] = {o->pad, o->pad, o->pad, o->pad};
    set_status(g, kn_node_set_ints(g, node, "kernel_shape", 2, k2));
    set_status(g, kn_node_set_ints(g, node, "strides", 2, s2));
    set_status(g, kn_node_set_ints(g, node, "pads", 4, p4));
    set_status(g, kn_node_set_ints(g, node, "dilations", 2, d2));
    set_status(g, kn_node_set_int(g, node, "group", groups));
    rename_node(g, y, name);
    return kn_node_done(g, y);
}

int kn_batchnorm(kn_graph *g, int x, const char *name)
{
    char buf[64], pn[160];
    if (bad(g, x)) return fail(g, g->sticky ? g->sticky : KN_ERR_INVALID);
    const kn_value *xv = &g->values[x];
    if (xv->ndim < 2 || xv->shape[1] <= 0)
        return fail(g, kn_error(KN_ERR_SHAPE, "batchnorm '%s': input '%s' needs a known channel dim",
                                name ? name : "?", xv->name));
    int64_t c = xv->shape[1];
    name = layer_name(g, name, "bn", buf, sizeof buf);
    snprintf(pn, sizeof pn, "%s.weight", name);
    int scale = kn_param_fill(g, pn, 1, &c, 1.0f, KN_VALUE_PARAM);
    snprintf(pn, sizeof pn, "%s.bias", name);
    int bias = kn_param_fill(g, pn, 1, &c, 0.0f, KN_VALUE_PARAM);
    snprintf(pn, sizeof pn, "%s.running_mean", name);
    int mean = kn_param_fill(g, pn, 1, &c, 0.0f, KN_VALUE_CONST);
    snprintf(pn, sizeof pn, "%s.running_var", name);
    int var = kn_param_fill(g, pn, 1, &c, 1.0f, KN_VALUE_CONST);
    int node, y = kn_node1(g, "BatchNormalization", 5, (int[]){x, scale, bias, mean, var}, &node);
    if (y < 0) return -1;
    set_status(g, kn_node_set_float(g, node, "epsilon", 1e-5f));
    set_status(g, kn_node_set_float(g, node, "momentum", 0.9f));
    rename_node(g, y, name);
    return kn_node_done(g, y);
}

static int unary(kn_graph *g, const char *op, int x) { return kn_node_done(g, kn_node1(g, op, 1, &x, NULL)); }

int kn_relu(kn_graph *g, int x) { return unary(g, "Relu", x); }
int kn_sigmoid(kn_graph *g, int x) { return unary(g, "Sigmoid", x); }
int kn_tanh(kn_graph *g, int x) { return unary(g, "Tanh", x); }
int kn_hardswish(kn_graph *g, int x) { return unary(g, "HardSwish", x); }

int kn_leaky_relu(kn_graph *g, int x, float alpha)
{
    int node, y = kn_node1(g, "LeakyRelu", 1, &x, &node);
    if (y < 0) return -1;
    set_status(g, kn_node_set_float(g, node, "alpha", alpha));
    return kn_node_done(g, y);
}

int kn_relu6(kn_graph *g, int x)
{
    if (bad(g, x)) return fail(g, g->sticky ? g->sticky : KN_ERR_INVALID);
    char base[64];
    snprintf(base, sizeof base, "relu6_%d", g->n_nodes);
    int lo = scalar_const(g, base, "min", 0.0f), hi = scalar_const(g, base, "max", 6.0f);
    return kn_node_done(g, kn_node1(g, "Clip", 3, (int[]){x, lo, hi}, NULL));
}

int kn_add(kn_graph *g, int a, int b) { return kn_node_done(g, kn_node1(g, "Add", 2, (int[]){a, b}, NULL)); }

static int pool(kn_graph *g, const char *op, int x, int64_t kernel, int64_t stride, int64_t pad)
{
    int node, y = kn_node1(g, op, 1, &x, &node);
    if (y < 0) return -1;
    int64_t k2[2] = {kernel, kernel}, s2[2] = {stride, stride}, p4[4] = {pad, pad, pad, pad};
    set_status(g, kn_node_set_ints(g, node, "kernel_shape", 2, k2));
    set_status(g, kn_node_set_ints(g, node, "strides", 2, s2));
    set_status(g, kn_node_set_ints(g, node, "pads", 4, p4));
    return kn_node_done(g, y);
}

int kn_maxpool2d(kn_graph *g, int x, int64_t k, int64_t s, int64_t p) { return pool(g, "MaxPool", x, k, s, p); }
int kn_avgpool2d(kn_graph *g, int x, int64_t k, int64_t s, int64_t p) { return pool(g, "AveragePool", x, k, s, p); }
int kn_global_avgpool(kn_graph *g, int x) { return unary(g, "GlobalAveragePool", x); }

int kn_flatten(kn_graph *g, int x)
{
    int node, y = kn_node1(g, "Flatten", 1, &x, &node);
    if (y < 0) return -1;
    set_status(g, kn_node_set_int(g, node, "axis", 1));
    return kn_node_done(g, y);
}

int kn_dropout(kn_graph *g, int x, float ratio)
{
    if (bad(g, x)) return fail(g, g->sticky ? g->sticky : KN_ERR_INVALID);
    if (g->opset >= 12) {
        char base[64];
        snprintf(base, sizeof base, "dropout_%d", g->n_nodes);
        int r = scalar_const(g, base, "ratio", ratio);
        return kn_node_done(g, kn_node1(g, "Dropout", 2, (int[]){x, r}, NULL));
    }
    int node, y = kn_node1(g, "Dropout", 1, &x, &node);
    if (y < 0) return -1;
    set_status(g, kn_node_set_float(g, node, "ratio", ratio));
    return kn_node_done(g, y);
}

int kn_softmax(kn_graph *g, int x, int axis)
{
    int node, y = kn_node1(g, "Softmax", 1, &x, &node);
    if (y < 0) return -1;
    set_status(g, kn_node_set_int(g, node, "axis", axis));
    return kn_node_done(g, y);
}

static int set_loss(kn_graph *g, int y)
{
    if (y >= 0) g->loss = y;
    return y;
}

int kn_softmax_cross_entropy(kn_graph *g, int logits, int labels)
{
    int node, y = kn_node1(g, "SoftmaxCrossEntropyLoss", 2, (int[]){logits, labels}, &node);
    if (y < 0) return -1;
    set_status(g, kn_node_set_string(g, node, "reduction", "mean"));
    return set_loss(g, kn_node_done(g, y));
}

int kn_nll_loss(kn_graph *g, int log_probs, int labels)
{
    int node, y = kn_node1(g, "NegativeLogLikelihoodLoss", 2, (int[]){log_probs, labels}, &node);
    if (y < 0) return -1;
    set_status(g, kn_node_set_string(g, node, "reduction", "mean"));
    return set_loss(g, kn_node_done(g, y));
}

int kn_mse_loss(kn_graph *g, int pred, int target)
{
    int d = kn_node_done(g, kn_node1(g, "Sub", 2, (int[]){pred, target}, NULL));
    int sq = kn_node_done(g, kn_node1(g, "Mul", 2, (int[]){d, d}, NULL));
    int node, y = kn_node1(g, "ReduceMean", 1, &sq, &node);
    if (y < 0) return -1;
    set_status(g, kn_node_set_int(g, node, "keepdims", 0));
    return set_loss(g, kn_node_done(g, y));
}
