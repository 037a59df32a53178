/* Sessions: plan (order, parameters, gradient needs), run forward node by
 * node through the device's kernel table, run backward in reverse order. */
#include "nn/session.h"
#include "nn/op.h"
#include "nn/passes/passes.h"
#include "nn/profile.h"
#include "nn/split.h"
#include "core/threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define MAX_ARITY 64

struct kn_session {
    kn_graph *g;
    kn_session_opts opts;
    const kn_kernels *k;
    int *order;
    int n_order;
    kn_tensor *vals;
    kn_tensor *grads;
    bool *needs_grad;
    kn_tensor *state; /* n_nodes * KN_OP_MAX_STATE */
    kn_tensor ws;     /* scratch shared by all nodes (uint8) */
    kn_pass_report report;
    bool optimized;
    /* level-2 memory plan: planned values are views into one arena, valid for plan_shapes */
    bool *planned;
    kn_tensor arena;
    bool plan_valid;
    int64_t plan_shapes[16][KN_MAX_DIMS + 1];
    kn_rng rng;
    int *params;
    int n_params;
    kn_profiler *prof; /* NULL unless opts.profile */
    bool *grad_ready; /* backward: this step's gradient buffer is zeroed (or seeded) */
    float loss_seed;  /* d(batch loss)/d(this session's loss): n_r / N in a replica, else 1 */
    /* data-parallel replicas (nn/split.h); rep[0] is this session, rep[1..] are owned */
    int n_rep;
    kn_session **rep;
    kn_group *group;
    kn_group *cur_group; /* set while this session runs one slice of a split batch */
    int rank;
    bool split_last;     /* the last run was split: outputs/loss/gradients are gathered */
    int64_t rows[KN_MAX_REPLICAS];
    kn_tensor *slices;   /* n_rep * n_inputs borrowed input slices */
    kn_tensor *gathered; /* whole-batch graph outputs of a split run */
    float split_loss;
    char split_why[256];
    /* inference on a device: nodes that run on the CPU instead (see run_on_host) */
    bool *on_host;
    kn_tensor *host_state; /* n_nodes * KN_OP_MAX_STATE, for those nodes */
    kn_tensor host_ws;
    int n_on_host;
};

kn_session_opts kn_session_defaults(void)
{
    kn_session_opts o = {.device = KN_CPU, .level = 0, .training = false, .threads = 0, .seed = 1,
                         .plan_min_bytes = KN_PLAN_MIN_BYTES};
    return o;
}

void kn_session_free(kn_session *s)
{
    if (!s) return;
    if (s->g) {
        for (int v = 0; v < s->g->n_values; v++) {
            if (s->vals) kn_tensor_release(&s->vals[v]);
            if (s->grads) kn_tensor_release(&s->grads[v]);
        }
        if (s->state)
            for (int i = 0; i < s->g->n_nodes * KN_OP_MAX_STATE; i++) kn_tensor_release(&s->state[i]);
        if (s->host_state)
            for (int i = 0; i < s->g->n_nodes * KN_OP_MAX_STATE; i++) kn_tensor_release(&s->host_state[i]);
    }
    free(s->on_host);
    free(s->host_state);
    kn_tensor_release(&s->host_ws);
    kn_tensor_release(&s->ws);
    kn_tensor_release(&s->arena);
    free(s->planned);
    free(s->vals);
    free(s->grads);
    free(s->needs_grad);
    free(s->state);
    free(s->order);
    free(s->params);
    kn_profiler_free(s->prof);
    free(s->grad_ready);
    for (int r = 1; s->rep && r < s->n_rep; r++) kn_session_free(s->rep[r]);
    free(s->rep);
    kn_group_free(s->group);
    free(s->slices);
    for (int i = 0; s->gathered && i < s->g->n_outputs; i++) kn_tensor_release(&s->gathered[i]);
    free(s->gathered);
    kn_graph_free(s->g);
    free(s);
}

/* Keep only nodes that the outputs (and the loss, when training) depend on. */
static kn_status plan_order(kn_session *s)
{
    kn_graph *g = s->g;
    int count;
    int *topo = malloc(sizeof(int) * (size_t)(g->n_nodes ? g->n_nodes : 1));
    char *live = calloc((size_t)(g->n_values ? g->n_values : 1), 1);
    s->order = malloc(sizeof(int) * (size_t)(g->n_nodes ? g->n_nodes : 1));
    if (!topo || !live || !s->order) {
        free(topo); free(live);
        return kn_error(KN_ERR_NOMEM, "out of memory planning the session");
    }
    kn_status st = kn_graph_topo_order(g, topo, &count);
    if (st != KN_OK) { free(topo); free(live); return st; }
    for (int i = 0; i < g->n_outputs; i++) live[g->outputs[i]] = 1;
    if (s->opts.training && g->loss >= 0) live[g->loss] = 1;
    char *keep = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), 1);
    if (!keep) { free(topo); free(live); return kn_error(KN_ERR_NOMEM, "out of memory"); }
    for (int oi = count - 1; oi >= 0; oi--) {
        const kn_node *n = &g->nodes[topo[oi]];
        bool needed = false;
        for (int j = 0; j < n->n_outputs; j++) needed |= live[n->outputs[j]];
        if (!needed) continue;
        keep[topo[oi]] = 1;
        for (int j = 0; j < n->n_inputs; j++)
            if (n->inputs[j] >= 0) live[n->inputs[j]] = 1;
    }
    s->n_order = 0;
    for (int oi = 0; oi < count; oi++)
        if (keep[topo[oi]]) s->order[s->n_order++] = topo[oi];
    /* parameters the plan uses, in value order (stable across sessions of one graph) */
    s->params = malloc(sizeof(int) * (size_t)(g->n_values ? g->n_values : 1));
    if (!s->params) st = kn_error(KN_ERR_NOMEM, "out of memory");
    for (int v = 0; st == KN_OK && v < g->n_values; v++)
        if (g->values[v].kind == KN_VALUE_PARAM && live[v]) s->params[s->n_params++] = v;
    free(keep);
    free(topo);
    free(live);
    return st;
}

static void plan_grads(kn_session *s)
{
    kn_graph *g = s->g;
    for (int v = 0; v < g->n_values; v++) s->needs_grad[v] = g->values[v].kind == KN_VALUE_PARAM;
    for (int oi = 0; oi < s->n_order; oi++) {
        const kn_node *n = &g->nodes[s->order[oi]];
        bool any = false;
        for (int j = 0; j < n->n_inputs; j++) any |= n->inputs[j] >= 0 && s->needs_grad[n->inputs[j]];
        for (int j = 0; j < n->n_outputs; j++)
            s->needs_grad[n->outputs[j]] = any && kn_dtype_is_float(g->values[n->outputs[j]].dtype == KN_UNDEFINED ? KN_FLOAT : g->values[n->outputs[j]].dtype);
    }
}

static kn_status setup_replicas(kn_session *s);

/* optimize = false for replicas, which copy the primary's already optimized graph */
static kn_status create_session(kn_session **out, const kn_graph *src, const kn_session_opts *opts, bool optimize)
{
    kn_session *s = calloc(1, sizeof *s);
    if (!s) return kn_error(KN_ERR_NOMEM, "out of memory creating a session");
    s->opts = opts ? *opts : kn_session_defaults();
    s->loss_seed = 1.0f;
    s->n_rep = 1;
    kn_status st;
    if (src->sticky != KN_OK) {
        free(s);
        return kn_error(src->sticky, "the graph has an earlier builder error: %s", kn_last_error());
    }
    if (!kn_device_available(s->opts.device)) {
        kn_device d = s->opts.device;
        free(s);
        return kn_error(KN_ERR_DEVICE, "device '%s' is not available%s", kn_device_name(d),
                        kn_kernels_get(d) ? " (no usable GPU found)" : " (kiln was built without it)");
    }
    s->k = kn_kernels_get(s->opts.device);
    if (s->opts.threads > 0) kn_set_num_threads(s->opts.threads);
    kn_rng_seed(&s->rng, s->opts.seed);
    if ((st = kn_graph_clone(&s->g, src)) != KN_OK) { free(s); return st; }
    if (optimize && !s->opts.training && s->opts.level > 0) {
        if ((st = kn_graph_optimize(s->g, s->opts.level, s->opts.disabled_passes, &s->report)) != KN_OK) {
            kn_session_free(s);
            return st;
        }
        s->optimized = true;
    }
    if (s->opts.training && s->g->loss < 0) {
        kn_session_free(s);
        return kn_error(KN_ERR_INVALID, "a training session needs a graph with a loss");
    }
    kn_graph *g = s->g;
    size_t nv = (size_t)(g->n_values ? g->n_values : 1), nn = (size_t)(g->n_nodes ? g->n_nodes : 1);
    s->vals = calloc(nv, sizeof *s->vals);
    s->grads = calloc(nv, sizeof *s->grads);
    s->needs_grad = calloc(nv, sizeof *s->needs_grad);
    s->state = calloc(nn * KN_OP_MAX_STATE, sizeof *s->state);
    s->planned = calloc(nv, sizeof *s->planned);
    s->grad_ready = calloc(nv, sizeof *s->grad_ready);
    if (!s->planned || !s->grad_ready || !s->vals || !s->grads || !s->needs_grad || !s->state) {
        kn_session_free(s);
        return kn_error(KN_ERR_NOMEM, "out of memory creating a session");
    }
    if ((st = plan_order(s)) != KN_OK) { kn_session_free(s); return st; }
    if (s->opts.profile && (st = kn_profiler_create(&s->prof, g, s->order, s->n_order)) != KN_OK) {
        kn_session_free(s);
        return st;
    }
    if (s->prof && s->opts.device != KN_CPU) kn_profiler_use_device(s->prof, s->k); /* device events */
    for (int v = 0; v < g->n_values; v++) {
        kn_value *val = &g->values[v];
        if (val->kind == KN_VALUE_PARAM || val->kind == KN_VALUE_CONST) {
            if (s->opts.device == KN_CPU)
                st = kn_tensor_view(&s->vals[v], &val->data, val->data.ndim, val->data.shape, 0);
            else
                st = kn_tensor_to(&s->vals[v], &val->data, s->opts.device);
            if (st != KN_OK) { kn_session_free(s); return st; }
        }
    }
    if (s->opts.training) plan_grads(s);
    if (optimize && (st = setup_replicas(s)) != KN_OK) { kn_session_free(s); return st; }
    *out = s;
    return KN_OK;
}

kn_status kn_session_create(kn_session **out, const kn_graph *src, const kn_session_opts *opts)
{
    return create_session(out, src, opts, true);
}

/* KN_REPLICAS_AUTO splits only graphs with convolutions or pooling: their many short
 * per-layer kernels pay a barrier each when split op by op (LeNet training: 35k samples/s
 * split 2 ways against 29.5k op by op), while a GEMM-only MLP keeps OpenBLAS's better
 * 64-row efficiency when each GEMM is split by columns instead (253k against 230k). */
static bool has_spatial_ops(const kn_session *s)
{
    static const char *const spatial[] = {"Conv", "FusedConv", "ConvTranspose", "MaxPool", "AveragePool",
                                          "GlobalAveragePool", "GlobalMaxPool", "LpPool", NULL};
    for (int oi = 0; oi < s->n_order; oi++)
        for (const char *const *p = spatial; *p; p++)
            if (!strcmp(s->g->nodes[s->order[oi]].op_type, *p)) return true;
    return false;
}

/* Replicas are sessions over a copy of this session's (optimized) graph, sharing its
 * parameter buffers; replica r seeds its RNG (Dropout) with seed + r. */
static kn_status setup_replicas(kn_session *s)
{
    int want = s->opts.replicas;
    if (want == KN_REPLICAS_AUTO) want = kn_get_num_threads();
    if (want <= 1) return KN_OK;
#ifndef _OPENMP
    snprintf(s->split_why, sizeof s->split_why, "kiln was built without OpenMP");
    return KN_OK;
#endif
    if (want > KN_MAX_REPLICAS) want = KN_MAX_REPLICAS;
    if (s->opts.device != KN_CPU) {
        snprintf(s->split_why, sizeof s->split_why, "replicas run on the CPU only");
        return KN_OK;
    }
    if (s->opts.profile) {
        snprintf(s->split_why, sizeof s->split_why, "profiling times whole batches");
        return KN_OK;
    }
    if (!kn_split_check(s->g, s->order, s->n_order, s->opts.training, s->split_why, sizeof s->split_why))
        return KN_OK;
    if (s->opts.replicas == KN_REPLICAS_AUTO && !has_spatial_ops(s)) {
        snprintf(s->split_why, sizeof s->split_why,
                 "auto: no convolution or pooling; GEMM-only graphs run faster with each GEMM split across threads");
        return KN_OK;
    }
    if (s->g->n_inputs > 16) {
        snprintf(s->split_why, sizeof s->split_why, "more than 16 inputs");
        return KN_OK;
    }
    s->rep = calloc((size_t)want, sizeof *s->rep);
    s->slices = calloc((size_t)want * (size_t)s->g->n_inputs, sizeof *s->slices);
    s->gathered = calloc((size_t)(s->g->n_outputs ? s->g->n_outputs : 1), sizeof *s->gathered);
    if (!s->rep || !s->slices || !s->gathered) return kn_error(KN_ERR_NOMEM, "out of memory creating replicas");
    KN_TRY(kn_group_create(&s->group, want));
    s->rep[0] = s;
    s->n_rep = want; /* from here kn_session_free frees the replicas made so far */
    for (int r = 1; r < want; r++) {
        kn_session_opts o = s->opts;
        o.replicas = 0;
        o.threads = 0;
        o.seed = s->opts.seed + (uint64_t)r;
        kn_status st = create_session(&s->rep[r], s->g, &o, false);
        if (st != KN_OK) {
            s->n_rep = r;
            return st;
        }
        s->rep[r]->rank = r;
    }
    return KN_OK;
}

int kn_session_replicas(const kn_session *s, const char **why)
{
    if (why) *why = s->split_why;
    return s->n_rep;
}

bool kn_session_last_run_split(const kn_session *s) { return s->split_last; }

const kn_graph *kn_session_graph(const kn_session *s) { return s->g; }
kn_profiler *kn_session_profiler(const kn_session *s) { return s->prof; }

static kn_status grow_ws(kn_session *s, size_t need)
{
    if (need <= (size_t)kn_tensor_numel(&s->ws) && s->ws.data) return KN_OK;
    kn_tensor_release(&s->ws);
    int64_t n = (int64_t)need;
    return kn_tensor_init_on(&s->ws, KN_UINT8, 1, &n, s->opts.device);
}

static kn_status node_context(const kn_node *n, kn_status st)
{
    if (st != KN_OK && strncmp(kn_last_error(), "node '", 6) != 0)
        kn_error_context(st, "node '%s' (%s): ", n->name, n->op_type);
    return st;
}

static void fill_ctx(kn_session *s, int ni, kn_op_ctx *c, kn_tensor **in, kn_tensor **out)
{
    kn_node *n = &s->g->nodes[ni];
    for (int j = 0; j < n->n_inputs; j++) in[j] = n->inputs[j] >= 0 ? &s->vals[n->inputs[j]] : NULL;
    for (int j = 0; j < n->n_outputs; j++) out[j] = &s->vals[n->outputs[j]];
    memset(c, 0, sizeof *c);
    c->graph = s->g;
    c->node = n;
    c->opset = s->g->opset;
    c->training = s->opts.training;
    c->k = s->k;
    c->device = s->opts.device;
    c->n_in = n->n_inputs;
    c->in = in;
    c->n_out = n->n_outputs;
    c->out = out;
    c->state = &s->state[ni * KN_OP_MAX_STATE];
    c->prepack = !s->opts.training && s->opts.level >= 2;
    c->rng = &s->rng;
    c->group = s->cur_group;
    c->rank = s->rank;
}

static kn_status mark_on_host(kn_session *s, int ni)
{
    const size_t nn = (size_t)s->g->n_nodes;
    if (!s->on_host) s->on_host = calloc(nn, sizeof *s->on_host);
    if (!s->host_state) s->host_state = calloc(nn * KN_OP_MAX_STATE, sizeof *s->host_state);
    if (!s->on_host || !s->host_state) return kn_error(KN_ERR_NOMEM, "out of memory");
    s->on_host[ni] = true;
    s->n_on_host++;
    return KN_OK;
}

/* Inference on a device whose kernel table lacks something a node needs (the kernel
 * returned KN_ERR_UNSUPPORTED): the node runs on the CPU table instead, its inputs
 * copied to the host and its outputs back, as ONNX Runtime hands a node its CUDA
 * provider cannot run to the CPU provider. The choice is kept per node (on_host), so
 * later runs go straight here; the node keeps host state of its own. The copies make
 * such a node slow (kn_session_nodes_on_host counts them); a node this device runs
 * never comes here. dc is the device context, with outputs allocated on the device. */
static kn_status run_on_host(kn_session *s, int ni, const kn_op_ctx *dc)
{
    kn_node *n = &s->g->nodes[ni];
    kn_tensor hin[MAX_ARITY], hout[MAX_ARITY], *pin[MAX_ARITY], *pout[MAX_ARITY];
    memset(hin, 0, sizeof hin);
    memset(hout, 0, sizeof hout);
    kn_status st = KN_OK;
    for (int j = 0; j < dc->n_in && st == KN_OK; j++) {
        pin[j] = dc->in[j];
        if (!dc->in[j] || !dc->in[j]->data || dc->in[j]->device == KN_CPU) continue;
        st = kn_tensor_to(&hin[j], dc->in[j], KN_CPU);
        pin[j] = &hin[j];
    }
    for (int j = 0; j < dc->n_out && st == KN_OK; j++) {
        pout[j] = &hout[j];
        const kn_tensor *o = dc->out[j];
        if (o->data) st = kn_tensor_init(&hout[j], o->dtype, o->ndim, o->shape);
    }
    kn_op_ctx c = *dc;
    c.k = kn_kernels_get(KN_CPU);
    c.device = KN_CPU;
    c.in = pin;
    c.out = pout;
    c.state = &s->host_state[ni * KN_OP_MAX_STATE];
    c.prepack = false;
    c.ws = NULL;
    c.ws_bytes = 0;
    if (st == KN_OK && n->op->workspace) {
        c.ws_bytes = n->op->workspace(&c);
        if (c.ws_bytes > (size_t)kn_tensor_numel(&s->host_ws) || !s->host_ws.data) {
            kn_tensor_release(&s->host_ws);
            int64_t nb = (int64_t)c.ws_bytes;
            st = kn_tensor_init(&s->host_ws, KN_UINT8, 1, &nb);
        }
        c.ws = s->host_ws.data;
    }
    if (st == KN_OK) st = n->op->forward(&c);
    for (int j = 0; j < dc->n_out && st == KN_OK; j++) {
        kn_tensor *o = dc->out[j];
        if (!hout[j].data) continue;
        if (!o->data || o->dtype != hout[j].dtype || !kn_tensor_same_shape(o, &hout[j])) { /* the op re-shaped it */
            kn_tensor_release(o);
            st = kn_tensor_init_on(o, hout[j].dtype, hout[j].ndim, hout[j].shape, s->opts.device);
        }
        if (st == KN_OK) st = kn_tensor_copy_data(o, &hout[j]);
    }
    for (int j = 0; j < dc->n_in; j++) kn_tensor_release(&hin[j]);
    for (int j = 0; j < dc->n_out; j++) kn_tensor_release(&hout[j]);
    return st;
}

int kn_session_nodes_on_host(const kn_session *s) { return s->n_on_host; }

static kn_status run_node(kn_session *s, int ni)
{
    kn_node *n = &s->g->nodes[ni];
    kn_tensor *in[MAX_ARITY], *out[MAX_ARITY], meta[MAX_ARITY], *pmeta[MAX_ARITY];
    if (n->n_inputs > MAX_ARITY || n->n_outputs > MAX_ARITY)
        return kn_node_error(n, KN_ERR_UNSUPPORTED, "more than %d inputs or outputs", MAX_ARITY);
    kn_op_ctx c;
    fill_ctx(s, ni, &c, in, out);
    for (int j = 0; j < n->n_outputs; j++) {
        memset(&meta[j], 0, sizeof meta[j]);
        pmeta[j] = &meta[j];
    }
    c.out = pmeta;
    KN_TRY(node_context(n, n->op->infer(&c)));
    c.out = out;
    for (int j = 0; j < n->n_outputs; j++) {
        kn_tensor *o = out[j];
        if (meta[j].dtype == KN_UNDEFINED) { kn_tensor_release(o); memset(o, 0, sizeof *o); continue; }
        /* a VIEW op aliases its input, except a random op in training (Dropout), which writes */
        bool view = (n->op->flags & KN_OP_VIEW) && j == 0 && in[0] && in[0]->data && in[0]->dtype == meta[j].dtype &&
                    !(s->opts.training && (n->op->flags & KN_OP_NONDETERMINISTIC));
        if (view) {
            kn_tensor_release(o);
            KN_TRY(node_context(n, kn_tensor_view(o, in[0], meta[j].ndim, meta[j].shape, 0)));
            continue;
        }
        if (o->data && o->buf && o->dtype == meta[j].dtype && kn_shape_equal(o->ndim, o->shape, meta[j].ndim, meta[j].shape) &&
            (o->buf->refs == 1 || s->planned[n->outputs[j]]))
            continue; /* steady state: reuse the buffer (own, or its slot in the planned arena) */
        kn_tensor_release(o);
        KN_TRY(node_context(n, kn_tensor_init_on(o, meta[j].dtype, meta[j].ndim, meta[j].shape, s->opts.device)));
    }
    if (n->op->workspace) {
        c.ws_bytes = n->op->workspace(&c);
        KN_TRY(grow_ws(s, c.ws_bytes));
        c.ws = s->ws.data;
    }
    double t0 = s->prof ? kn_profiler_now() : 0;
    if (s->prof) kn_profiler_node_begin(s->prof, ni);
    if (s->on_host && s->on_host[ni]) {
        KN_TRY(node_context(n, run_on_host(s, ni, &c)));
    } else {
        kn_status st = n->op->forward(&c);
        /* a kernel (or output) this device lacks: inference runs the node on the CPU */
        if (st == KN_ERR_UNSUPPORTED && s->opts.device != KN_CPU && !s->opts.training) {
            char why[512];
            snprintf(why, sizeof why, "%s", kn_last_error());
            st = mark_on_host(s, ni);
            if (st == KN_OK) st = run_on_host(s, ni, &c);
            if (st != KN_OK)
                kn_error_context(st, "node '%s' (%s) needs the CPU (%s), and failed there too: ", n->name, n->op_type,
                                 why);
        }
        KN_TRY(node_context(n, st));
    }
    if (s->prof) {
        /* device kernels are asynchronous: with events the device times replace these at the
         * run's end; a device without them is timed to completion here */
        if (!s->k->event_record && s->k->sync) s->k->sync();
        kn_profiler_node_end(s->prof, ni, t0, kn_profiler_now(), &c);
    }
    return KN_OK;
}

static kn_status bind_inputs(kn_session *s, const kn_tensor *const *inputs, int n_inputs)
{
    kn_graph *g = s->g;
    if (n_inputs != g->n_inputs)
        return kn_error(KN_ERR_INVALID, "the model takes %d inputs, %d were given", g->n_inputs, n_inputs);
    for (int i = 0; i < n_inputs; i++) {
        int v = g->inputs[i];
        const kn_value *val = &g->values[v];
        const kn_tensor *t = inputs[i];
        char a[160], b[160];
        if (!t || !t->data) return kn_error(KN_ERR_INVALID, "input %d ('%s') has no data", i, val->name);
        if (val->dtype != KN_UNDEFINED && t->dtype != val->dtype)
            return kn_error(KN_ERR_SHAPE, "input '%s' must be %s, got %s", val->name, kn_dtype_name(val->dtype),
                            kn_dtype_name(t->dtype));
        bool fits = val->ndim < 0 || val->ndim == t->ndim;
        for (int d = 0; fits && val->ndim >= 0 && d < t->ndim; d++)
            fits = val->shape[d] < 0 || val->shape[d] == t->shape[d];
        if (!fits)
            return kn_error(KN_ERR_SHAPE, "input '%s' must have shape %s, got %s", val->name,
                            kn_shape_str(a, sizeof a, val->ndim, val->shape), kn_shape_str(b, sizeof b, t->ndim, t->shape));
        kn_tensor *dst = &s->vals[v];
        if (s->opts.device == KN_CPU && t->device == KN_CPU) {
            kn_tensor_release(dst);
            kn_tensor_borrow(dst, t->dtype, t->ndim, t->shape, t->data); /* zero copy */
        } else {
            if (!(dst->data && dst->buf && dst->dtype == t->dtype && kn_tensor_same_shape(dst, t))) {
                kn_tensor_release(dst);
                KN_TRY(kn_tensor_init_on(dst, t->dtype, t->ndim, t->shape, s->opts.device));
            }
            KN_TRY(kn_tensor_copy_data(dst, t));
        }
    }
    return KN_OK;
}

/* ---- level-2 memory plan ----
 * After a run with new input shapes, every intermediate that is not a graph
 * output and owns its buffer gets an offset in one arena, chosen so values
 * whose lifetimes overlap never share bytes (greedy, largest first, as in
 * ggml-alloc / onnx2c's unionize). Views (Reshape...) extend the lifetime of
 * the buffer they alias. The plan holds while input shapes repeat. */

static bool same_input_shapes(const kn_session *s, const kn_tensor *const *inputs, int n)
{
    if (n > 16) return false;
    for (int i = 0; i < n; i++) {
        if (s->plan_shapes[i][0] != inputs[i]->ndim) return false;
        for (int d = 0; d < inputs[i]->ndim; d++)
            if (s->plan_shapes[i][d + 1] != inputs[i]->shape[d]) return false;
    }
    return true;
}

static void drop_plan(kn_session *s)
{
    for (int v = 0; v < s->g->n_values; v++)
        if (s->planned[v]) {
            kn_tensor_release(&s->vals[v]); /* the next run allocates it afresh */
            s->planned[v] = false;
        }
    kn_tensor_release(&s->arena);
    s->plan_valid = false;
}

typedef struct { int v; int64_t first, last; size_t bytes, offset; } interval;

static kn_status make_plan(kn_session *s, const kn_tensor *const *inputs, int n_inputs)
{
    kn_graph *g = s->g;
    int nv = g->n_values;
    int *root = malloc(sizeof(int) * (size_t)nv), *pos = malloc(sizeof(int) * (size_t)nv);
    int64_t *last = malloc(sizeof(int64_t) * (size_t)nv);
    interval *iv = malloc(sizeof(interval) * (size_t)nv);
    bool *pinned = calloc((size_t)nv, 1);
    kn_status st = KN_OK;
    if (!root || !pos || !last || !iv || !pinned) { st = kn_error(KN_ERR_NOMEM, "out of memory planning memory"); goto done; }
    for (int v = 0; v < nv; v++) { root[v] = v; pos[v] = -1; last[v] = -1; }
    for (int oi = 0; oi < s->n_order; oi++) {
        const kn_node *n = &g->nodes[s->order[oi]];
        for (int j = 0; j < n->n_outputs; j++) pos[n->outputs[j]] = oi;
        if ((n->op->flags & KN_OP_VIEW) && n->n_inputs > 0 && n->inputs[0] >= 0 && s->vals[n->outputs[0]].data &&
            s->vals[n->outputs[0]].buf == s->vals[n->inputs[0]].buf)
            root[n->outputs[0]] = root[n->inputs[0]];
    }
    for (int oi = 0; oi < s->n_order; oi++) {
        const kn_node *n = &g->nodes[s->order[oi]];
        for (int j = 0; j < n->n_inputs; j++)
            if (n->inputs[j] >= 0 && last[root[n->inputs[j]]] < oi) last[root[n->inputs[j]]] = oi;
    }
    for (int i = 0; i < g->n_outputs; i++) pinned[root[g->outputs[i]]] = true;
    int count = 0;
    for (int v = 0; v < nv; v++) {
        kn_tensor *t = &s->vals[v];
        if (root[v] != v || pinned[v] || pos[v] < 0 || !t->data || !t->buf || t->buf->refs != 1) continue;
        /* values aliased by views keep refs > 1; count those aliases out */
        iv[count++] = (interval){v, pos[v], last[v] < pos[v] ? pos[v] : last[v], (kn_tensor_bytes(t) + 63) / 64 * 64, 0};
    }
    /* views add references to their root's buffer: recount roots whose only extra refs are views */
    for (int v = 0; v < nv; v++) {
        if (root[v] == v || pinned[root[v]] || pos[root[v]] < 0) continue;
        int r = root[v];
        bool listed = false;
        for (int i = 0; i < count; i++) listed |= iv[i].v == r;
        kn_tensor *t = &s->vals[r];
        int views = 0;
        for (int w = 0; w < nv; w++) views += root[w] == r && w != r && s->vals[w].buf == t->buf;
        if (!listed && t->buf && t->buf->refs == 1 + views)
            iv[count++] = (interval){r, pos[r], last[r] < pos[r] ? pos[r] : last[r], (kn_tensor_bytes(t) + 63) / 64 * 64, 0};
    }
    size_t unplanned = 0;
    for (int i = 0; i < count; i++) unplanned += iv[i].bytes;
    if (s->opts.device == KN_CPU && unplanned <= s->opts.plan_min_bytes) count = 0; /* decided: own buffers */
    /* largest first; place each at the lowest offset free of every overlapping placed interval */
    for (int i = 1; i < count; i++)
        for (int j = i; j > 0 && iv[j].bytes > iv[j - 1].bytes; j--) { interval t = iv[j]; iv[j] = iv[j - 1]; iv[j - 1] = t; }
    size_t total = 0;
    for (int i = 0; i < count; i++) {
        size_t off = 0;
        bool moved = true;
        while (moved) {
            moved = false;
            for (int j = 0; j < i; j++) {
                bool overlap_t = iv[j].first <= iv[i].last && iv[i].first <= iv[j].last;
                bool overlap_m = off < iv[j].offset + iv[j].bytes && iv[j].offset < off + iv[i].bytes;
                if (overlap_t && overlap_m) { off = iv[j].offset + iv[j].bytes; moved = true; }
            }
        }
        iv[i].offset = off;
        if (off + iv[i].bytes > total) total = off + iv[i].bytes;
    }
    int64_t tb = (int64_t)total;
    if (count == 0) goto decided; /* nothing to place: the decision holds for these shapes */
    if ((st = kn_tensor_init_on(&s->arena, KN_UINT8, 1, &tb, s->opts.device)) != KN_OK) goto done;
    for (int i = 0; i < count; i++) {
        int r = iv[i].v;
        kn_buffer *old = s->vals[r].buf;
        void *new_data = (char *)s->arena.data + iv[i].offset;
        /* re-point the root and its views at the arena slot */
        for (int w = 0; w < nv; w++) {
            if (root[w] != r || !s->vals[w].data || s->vals[w].buf != old) continue;
            kn_tensor *t = &s->vals[w];
            size_t delta = (size_t)((char *)t->data - (char *)old->ptr);
            kn_tensor_release(t);
            t->data = (char *)new_data + delta;
            t->buf = s->arena.buf;
            t->buf->refs++;
            s->planned[w] = true;
        }
    }
decided:
    for (int i = 0; i < n_inputs && i < 16; i++) {
        s->plan_shapes[i][0] = inputs[i]->ndim;
        for (int d = 0; d < inputs[i]->ndim; d++) s->plan_shapes[i][d + 1] = inputs[i]->shape[d];
    }
    s->plan_valid = true;
done:
    free(root); free(pos); free(last); free(iv); free(pinned);
    return st;
}

static kn_status run_local(kn_session *s, const kn_tensor *const *inputs, int n_inputs)
{
    bool plan = !s->opts.training && s->opts.level >= 2 && n_inputs <= 16;
    KN_TRY(bind_inputs(s, inputs, n_inputs));
    if (s->plan_valid && !same_input_shapes(s, inputs, n_inputs)) drop_plan(s);
    /* views (Flatten, Reshape...) are re-made by their node every run; dropping last
     * run's first puts their source buffers back to one reference, so the producers
     * reuse them instead of allocating afresh each step */
    for (int oi = 0; oi < s->n_order; oi++) {
        const kn_node *n = &s->g->nodes[s->order[oi]];
        if (!(n->op->flags & KN_OP_VIEW) || n->n_outputs < 1 || n->n_inputs < 1 || n->inputs[0] < 0) continue;
        kn_tensor *o = &s->vals[n->outputs[0]];
        if (o->data && o->buf && o->buf == s->vals[n->inputs[0]].buf && !s->planned[n->outputs[0]]) kn_tensor_release(o);
    }
    kn_status st = KN_OK;
    for (int oi = 0; oi < s->n_order && st == KN_OK; oi++) st = run_node(s, s->order[oi]);
    if (s->prof) kn_profiler_run_end(s->prof);
    KN_TRY(st);
    if (plan && !s->plan_valid) KN_TRY(make_plan(s, inputs, n_inputs));
    return KN_OK;
}

/* ---- split (data-parallel) runs ---- */

typedef struct split_errs {
    kn_status st[KN_MAX_REPLICAS];
    char msg[KN_MAX_REPLICAS][256];
} split_errs;

/* The error to report: the first replica's own failure, not the "another replica
 * failed" of those that gave up waiting for it. */
static kn_status split_error(const kn_session *s, const split_errs *e)
{
    int pick = -1;
    for (int r = 0; r < s->n_rep; r++) {
        if (e->st[r] == KN_OK) continue;
        if (pick < 0 || (e->st[pick] == KN_ERR_INTERNAL && strstr(e->msg[pick], "another replica failed")))
            pick = r;
    }
    return pick < 0 ? KN_OK : kn_error(e->st[pick], "%s", e->msg[pick]);
}

static void split_fail(kn_session *s, split_errs *e, int r, kn_status st)
{
    e->st[r] = st;
    snprintf(e->msg[r], sizeof e->msg[r], "%s", kn_last_error());
    kn_group_fail(s->group);
}

/* Whole-batch outputs: replica outputs stacked along axis 0. */
static kn_status gather_outputs(kn_session *s)
{
    const kn_graph *g = s->g;
    for (int i = 0; i < g->n_outputs; i++) {
        const int v = g->outputs[i];
        const kn_tensor *o0 = &s->vals[v];
        int64_t shape[KN_MAX_DIMS], rows = 0;
        char a[160], b[160];
        for (int r = 0; r < s->n_rep; r++) {
            const kn_tensor *o = &s->rep[r]->vals[v];
            if (!o->data || o->ndim < 1 || o->ndim != o0->ndim || o->dtype != o0->dtype ||
                !kn_shape_equal(o->ndim - 1, o->shape + 1, o0->ndim - 1, o0->shape + 1))
                return kn_error(KN_ERR_SHAPE, "output '%s': replica %d made %s, replica 0 %s; the slices do not stack",
                                g->values[v].name, r, kn_shape_str(a, sizeof a, o->ndim, o->shape),
                                kn_shape_str(b, sizeof b, o0->ndim, o0->shape));
            rows += o->shape[0];
        }
        memcpy(shape, o0->shape, sizeof(int64_t) * (size_t)o0->ndim);
        shape[0] = rows;
        kn_tensor *t = &s->gathered[i];
        KN_TRY(kn_tensor_ensure_on(t, o0->dtype, o0->ndim, shape, KN_CPU, NULL));
        char *dst = t->data;
        for (int r = 0; r < s->n_rep; r++) {
            const kn_tensor *o = &s->rep[r]->vals[v];
            const size_t bytes = kn_tensor_bytes(o);
            memcpy(dst, o->data, bytes);
            dst += bytes;
        }
    }
    return KN_OK;
}

/* Run fn(s, r, ctx) for every replica r on its own thread, with the kernels inside kept on
 * that thread. *ran is false when the team could not be formed (called from inside another
 * parallel region): nothing ran. Returns the first replica's own error. */
typedef kn_status (*replica_fn)(kn_session *s, int r, void *ctx);
static kn_status on_replicas(kn_session *s, replica_fn fn, void *ctx, bool *ran)
{
    const int R = s->n_rep;
    split_errs e;
    memset(e.st, 0, sizeof e.st);
    int team = 0;
    kn_group_reset(s->group);
#ifdef _OPENMP
#pragma omp parallel num_threads(R)
    {
        const int r = omp_get_thread_num();
        if (omp_get_num_threads() == R) {
            if (r == 0) team = R;
            omp_set_num_threads(1);
            kn_status st = fn(s, r, ctx);
            if (st != KN_OK) split_fail(s, &e, r, st);
        }
    }
#else
    (void)fn; (void)ctx;
#endif
    *ran = team == R;
    return *ran ? split_error(s, &e) : KN_OK;
}

typedef struct split_run_ctx { const kn_tensor *const *inputs; int n_inputs; } split_run_ctx;

static kn_status replica_forward(kn_session *s, int r, void *ctx)
{
    const split_run_ctx *c = ctx;
    kn_session *rs = s->rep[r];
    const kn_tensor *in[16];
    for (int i = 0; i < c->n_inputs; i++) in[i] = &s->slices[r * c->n_inputs + i];
    rs->cur_group = s->group;
    kn_status st = run_local(rs, in, c->n_inputs);
    rs->cur_group = NULL;
    return st;
}

/* Run each replica on its slice; false in *ran when the threads were not there
 * (called from inside another parallel region), so the caller runs unsplit. */
static kn_status split_forward(kn_session *s, const kn_tensor *const *inputs, int n_inputs, bool *ran)
{
    const int R = s->n_rep;
    const int64_t rows = inputs[0]->shape[0];
    int64_t start = 0;
    for (int r = 0; r < R; r++) {
        s->rows[r] = rows / R + (r < rows % R);
        for (int i = 0; i < n_inputs; i++) {
            const kn_tensor *t = inputs[i];
            const int64_t row_bytes = t->shape[0] ? (int64_t)kn_tensor_bytes(t) / t->shape[0] : 0;
            int64_t shape[KN_MAX_DIMS];
            memcpy(shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
            shape[0] = s->rows[r];
            kn_tensor_borrow(&s->slices[r * n_inputs + i], t->dtype, t->ndim, shape,
                             (char *)t->data + start * row_bytes);
        }
        start += s->rows[r];
    }
    split_run_ctx fc = {inputs, n_inputs};
    KN_TRY(on_replicas(s, replica_forward, &fc, ran));
    if (!*ran) return KN_OK;
    KN_TRY(gather_outputs(s));
    if (s->opts.training) {
        double loss = 0;
        for (int r = 0; r < R; r++) {
            const kn_tensor *l = &s->rep[r]->vals[s->g->loss];
            loss += (double)s->rows[r] / (double)rows * (double)((const float *)l->data)[0];
        }
        s->split_loss = (float)loss;
    }
    return KN_OK;
}

kn_status kn_session_run(kn_session *s, const kn_tensor *const *inputs, int n_inputs)
{
    s->split_last = false;
    if (s->n_rep > 1 && n_inputs == s->g->n_inputs) {
        bool fits = true;
        for (int i = 0; i < n_inputs; i++)
            fits &= inputs[i] && inputs[i]->data && inputs[i]->device == KN_CPU && inputs[i]->ndim >= 1 &&
                    inputs[i]->shape[0] == inputs[0]->shape[0];
        if (fits && inputs[0]->shape[0] >= (int64_t)s->n_rep * KN_SPLIT_MIN_ROWS) {
            bool ran;
            KN_TRY(split_forward(s, inputs, n_inputs, &ran));
            if (ran) {
                s->split_last = true;
                return KN_OK;
            }
        }
    }
    return run_local(s, inputs, n_inputs);
}

const kn_pass_report *kn_session_pass_report(const kn_session *s) { return s->optimized ? &s->report : NULL; }
bool kn_session_memory_planned(const kn_session *s) { return s->plan_valid && s->arena.data; }

size_t kn_session_activation_bytes(const kn_session *s)
{
    size_t total = s->arena.data ? kn_tensor_bytes(&s->arena) : 0;
    for (int v = 0; v < s->g->n_values; v++) {
        const kn_tensor *t = &s->vals[v];
        const kn_value *val = &s->g->values[v];
        if (!t->data || !t->buf || s->planned[v] || val->kind != KN_VALUE_INTERMEDIATE) continue;
        if (t->buf->refs == 1) total += kn_tensor_bytes(t);
    }
    return total;
}

const kn_tensor *kn_session_output(const kn_session *s, int i)
{
    if (i < 0 || i >= s->g->n_outputs) return NULL;
    const kn_tensor *t = s->split_last ? &s->gathered[i] : &s->vals[s->g->outputs[i]];
    return t->data ? t : NULL;
}

const kn_tensor *kn_session_value(const kn_session *s, const char *name)
{
    int v = kn_graph_find_value(s->g, name);
    return v >= 0 && s->vals[v].data ? &s->vals[v] : NULL;
}

float kn_session_loss(const kn_session *s)
{
    if (s->g->loss < 0) return 0.0f;
    if (s->split_last) return s->split_loss;
    const kn_tensor *t = &s->vals[s->g->loss];
    if (!t->data) return 0.0f;
    float v = 0.0f;
    if (t->device == KN_CPU) return ((const float *)t->data)[0];
    s->k->memcpy_d2h(&v, t->data, sizeof v);
    return v;
}

static kn_status ready_grad(kn_session *s, int v)
{
    if (s->grad_ready[v] || !s->grads[v].data) return KN_OK;
    s->grad_ready[v] = true;
    return s->k->memset0(s->grads[v].data, kn_tensor_bytes(&s->grads[v]));
}

static kn_status backward_local(kn_session *s)
{
    kn_graph *g = s->g;
    if (!s->opts.training) return kn_error(KN_ERR_INVALID, "backward needs a session created with training = true");
    int loss = g->loss;
    if (!s->vals[loss].data) return kn_error(KN_ERR_INVALID, "backward called before a forward run");
    if (!s->needs_grad[loss]) return kn_error(KN_ERR_INVALID, "the loss '%s' depends on no trainable parameter", g->values[loss].name);
    /* size every gradient buffer; backward kernels accumulate, so each buffer is zeroed
     * once per step, just before the first node that touches it (still in cache when the
     * kernel runs), and buffers no node touched are zeroed at the end */
    for (int v = 0; v < g->n_values; v++) {
        s->grad_ready[v] = false;
        if (!s->needs_grad[v] || !s->vals[v].data) continue;
        kn_tensor *gr = &s->grads[v];
        if (!(gr->data && gr->dtype == s->vals[v].dtype && kn_tensor_same_shape(gr, &s->vals[v]))) {
            kn_tensor_release(gr);
            KN_TRY(kn_tensor_init_on(gr, s->vals[v].dtype, s->vals[v].ndim, s->vals[v].shape, s->opts.device));
        }
    }
    {   /* d loss / d loss = 1 */
        kn_tensor *gl = &s->grads[loss];
        int64_t n = kn_tensor_numel(gl);
        if (gl->device == KN_CPU) {
            for (int64_t i = 0; i < n; i++) ((float *)gl->data)[i] = s->loss_seed;
        } else {
            float one = 1.0f, *ones = n > 1 ? malloc(sizeof(float) * (size_t)n) : &one;
            if (!ones) return kn_error(KN_ERR_NOMEM, "out of memory");
            for (int64_t i = 0; i < n; i++) ones[i] = s->loss_seed;
            kn_status st = s->k->memcpy_h2d(gl->data, ones, sizeof(float) * (size_t)n);
            if (ones != &one) free(ones);
            KN_TRY(st);
        }
        s->grad_ready[loss] = true;
    }
    for (int oi = s->n_order - 1; oi >= 0; oi--) {
        int ni = s->order[oi];
        kn_node *n = &g->nodes[ni];
        bool out_grad = false, in_grad = false;
        for (int j = 0; j < n->n_outputs; j++) out_grad |= s->needs_grad[n->outputs[j]] && s->grads[n->outputs[j]].data;
        for (int j = 0; j < n->n_inputs; j++) in_grad |= n->inputs[j] >= 0 && s->needs_grad[n->inputs[j]];
        if (!out_grad || !in_grad) continue;
        if (!n->op->backward)
            return kn_node_error(n, KN_ERR_UNSUPPORTED, "no gradient is implemented for %s", n->op_type);
        kn_tensor *in[MAX_ARITY], *out[MAX_ARITY], *gin[MAX_ARITY], *gout[MAX_ARITY];
        kn_op_ctx c;
        fill_ctx(s, ni, &c, in, out);
        for (int j = 0; j < n->n_inputs; j++)
            gin[j] = n->inputs[j] >= 0 && s->needs_grad[n->inputs[j]] ? &s->grads[n->inputs[j]] : NULL;
        for (int j = 0; j < n->n_outputs; j++)
            gout[j] = s->needs_grad[n->outputs[j]] && s->grads[n->outputs[j]].data ? &s->grads[n->outputs[j]] : NULL;
        c.gin = gin;
        c.gout = gout;
        bool fresh[MAX_ARITY];
        for (int j = 0; j < n->n_inputs; j++) {
            fresh[j] = false;
            if (!gin[j]) continue;
            const int v = n->inputs[j];
            bool twice = false; /* the same value in two inputs: both add into one buffer */
            for (int q = 0; q < n->n_inputs; q++) twice |= q != j && n->inputs[q] == v;
            fresh[j] = (n->op->flags & KN_OP_BWD_OVERWRITE) && !s->grad_ready[v] && !twice;
            if (!fresh[j]) KN_TRY(ready_grad(s, v));
        }
        c.gin_fresh = fresh;
        for (int j = 0; j < n->n_outputs; j++)
            if (gout[j]) KN_TRY(ready_grad(s, n->outputs[j]));
        if (n->op->workspace) {
            c.ws_bytes = n->op->workspace(&c);
            KN_TRY(grow_ws(s, c.ws_bytes));
            c.ws = s->ws.data;
        }
        KN_TRY(node_context(n, n->op->backward(&c)));
        for (int j = 0; j < n->n_inputs; j++)
            if (fresh[j]) s->grad_ready[n->inputs[j]] = true; /* written in full by the op */
    }
    for (int v = 0; v < g->n_values; v++) /* gradients no node reached are zero */
        if (s->needs_grad[v] && s->grads[v].data) KN_TRY(ready_grad(s, v));
    return KN_OK;
}

/* Replica r's share [lo, hi) of all parameter-gradient elements: replica 0's gradients
 * become the sums over replicas, added in rank order (deterministic). */
static kn_status reduce_grads(kn_session *s, int r)
{
    int64_t total = 0;
    for (int p = 0; p < s->n_params; p++) total += s->grads[s->params[p]].data ? kn_tensor_numel(&s->grads[s->params[p]]) : 0;
    const int64_t per = (total + s->n_rep - 1) / s->n_rep;
    const int64_t lo = (int64_t)r * per, hi = lo + per < total ? lo + per : total;
    int64_t base = 0;
    for (int p = 0; p < s->n_params && base < hi; p++) {
        const int v = s->params[p];
        kn_tensor *g0 = &s->grads[v];
        if (!g0->data) continue;
        const int64_t n = kn_tensor_numel(g0);
        const int64_t a = lo > base ? lo - base : 0, b = hi - base < n ? hi - base : n;
        for (int q = 1; q < s->n_rep && a < b; q++) {
            const kn_tensor *gq = &s->rep[q]->grads[v];
            if (!gq->data || kn_tensor_numel(gq) != n)
                return kn_error(KN_ERR_INTERNAL, "replica %d has no gradient for '%s'", q, s->g->values[v].name);
            float *restrict d = (float *)g0->data + a;
            const float *restrict x = (const float *)gq->data + a;
            #pragma omp simd
            for (int64_t i = 0; i < b - a; i++) d[i] += x[i];
        }
        base += n;
    }
    return KN_OK;
}

/* One replica's backward from its loss seeded with n_r / N, then its share of the sum of
 * the replicas' parameter gradients once every replica is done. */
static kn_status replica_backward(kn_session *s, int r, void *ctx)
{
    (void)ctx;
    int64_t rows = 0;
    for (int q = 0; q < s->n_rep; q++) rows += s->rows[q];
    kn_session *rs = s->rep[r];
    rs->loss_seed = (float)((double)s->rows[r] / (double)rows);
    rs->cur_group = s->group;
    kn_status st = backward_local(rs);
    rs->cur_group = NULL;
    if (st == KN_OK) st = kn_group_barrier(s->group);
    if (st == KN_OK) st = reduce_grads(s, r);
    return st;
}

kn_status kn_session_backward(kn_session *s)
{
    if (!s->split_last) {
        s->loss_seed = 1.0f;
        return backward_local(s);
    }
    bool ran;
    KN_TRY(on_replicas(s, replica_backward, NULL, &ran));
    if (!ran) return kn_error(KN_ERR_INTERNAL, "backward of a split batch could not get its %d threads", s->n_rep);
    return KN_OK;
}

int kn_session_num_params(const kn_session *s) { return s->n_params; }

kn_tensor *kn_session_param(kn_session *s, int i)
{
    return i >= 0 && i < s->n_params ? &s->vals[s->params[i]] : NULL;
}

const kn_tensor *kn_session_grad(const kn_session *s, int i)
{
    if (i < 0 || i >= s->n_params) return NULL;
    const kn_tensor *t = &s->grads[s->params[i]];
    return t->data ? t : NULL;
}

const char *kn_session_param_name(const kn_session *s, int i)
{
    return i >= 0 && i < s->n_params ? s->g->values[s->params[i]].name : NULL;
}

const kn_tensor *kn_session_value_grad(const kn_session *s, const char *name)
{
    int v = kn_graph_find_value(s->g, name);
    return v >= 0 && s->grads[v].data ? &s->grads[v] : NULL;
}

kn_status kn_session_sync_graph(kn_session *s)
{
    if (s->opts.device == KN_CPU) return KN_OK;
    for (int v = 0; v < s->g->n_values; v++) {
        kn_value *val = &s->g->values[v];
        if ((val->kind == KN_VALUE_PARAM || val->kind == KN_VALUE_CONST) && val->data.data && s->vals[v].data)
            KN_TRY(kn_tensor_copy_data(&val->data, &s->vals[v]));
    }
    return KN_OK;
}

kn_status kn_session_warmup(kn_session *s, const kn_tensor *const *inputs, int n_inputs, int iters)
{
    for (int i = 0; i < iters; i++) KN_TRY(kn_session_run(s, inputs, n_inputs));
    return KN_OK;
}
