/* Session profiler: per-node totals, work estimates (FLOPs, bytes) and a
 * timeline of executions that can be written as a Chrome trace. */
#include "nn/profile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct kn_profiler {
    const kn_graph *g;
    int n_slots;
    int *slot_node;  /* slot -> node id */
    int *node_slot;  /* node id -> slot, -1 when not planned */
    int n_nodes;
    double *seconds;
    int64_t *calls;
    double *flops, *bytes; /* per call, from the latest execution */
    kn_node_event *ev;
    int64_t n_ev, cap_ev;
    double origin;
    /* device timing (kn_profiler_use_device): start/end events per slot, and this run's
     * nodes waiting for their device times */
    const kn_kernels *dk;
    void **ev_a, **ev_b;
    struct pending { int slot; int64_t ev; double host_dur, host_t0; } *pend;
    int n_pend;
};

double kn_profiler_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

kn_status kn_profiler_create(kn_profiler **out, const kn_graph *g, const int *order, int n_order)
{
    kn_profiler *p = calloc(1, sizeof *p);
    size_t ns = (size_t)(n_order > 0 ? n_order : 1), nn = (size_t)(g->n_nodes > 0 ? g->n_nodes : 1);
    if (p) {
        p->slot_node = malloc(ns * sizeof *p->slot_node);
        p->node_slot = malloc(nn * sizeof *p->node_slot);
        p->seconds = calloc(ns, sizeof *p->seconds);
        p->calls = calloc(ns, sizeof *p->calls);
        p->flops = calloc(ns, sizeof *p->flops);
        p->bytes = calloc(ns, sizeof *p->bytes);
    }
    if (!p || !p->slot_node || !p->node_slot || !p->seconds || !p->calls || !p->flops || !p->bytes) {
        kn_profiler_free(p);
        return kn_error(KN_ERR_NOMEM, "out of memory creating the profiler");
    }
    p->g = g;
    p->n_slots = n_order;
    p->n_nodes = g->n_nodes;
    for (int i = 0; i < g->n_nodes; i++) p->node_slot[i] = -1;
    for (int i = 0; i < n_order; i++) {
        p->slot_node[i] = order[i];
        p->node_slot[order[i]] = i;
    }
    p->origin = kn_profiler_now();
    *out = p;
    return KN_OK;
}

void kn_profiler_free(kn_profiler *p)
{
    if (!p) return;
    free(p->slot_node);
    free(p->node_slot);
    free(p->seconds);
    free(p->calls);
    free(p->flops);
    free(p->bytes);
    free(p->ev);
    for (int i = 0; p->dk && i < p->n_slots; i++) {
        p->dk->event_destroy(p->ev_a[i]);
        p->dk->event_destroy(p->ev_b[i]);
    }
    free(p->ev_a);
    free(p->ev_b);
    free(p->pend);
    free(p);
}

void kn_profiler_use_device(kn_profiler *p, const kn_kernels *k)
{
    if (!p || !k || !k->event_record || !k->event_elapsed || !k->event_destroy) return;
    size_t n = (size_t)(p->n_slots > 0 ? p->n_slots : 1);
    p->ev_a = calloc(n, sizeof *p->ev_a);
    p->ev_b = calloc(n, sizeof *p->ev_b);
    p->pend = calloc(n, sizeof *p->pend);
    if (p->ev_a && p->ev_b && p->pend) {
        p->dk = k;
        return;
    }
    free(p->ev_a);
    free(p->ev_b);
    free(p->pend);
    p->ev_a = p->ev_b = NULL;
    p->pend = NULL;
}

void kn_profiler_node_begin(kn_profiler *p, int node)
{
    if (!p || !p->dk || node < 0 || node >= p->n_nodes || p->node_slot[node] < 0) return;
    (void)p->dk->event_record(&p->ev_a[p->node_slot[node]]);
}

void kn_profiler_node_end(kn_profiler *p, int node, double t0, double t1, const kn_op_ctx *c)
{
    if (!p || node < 0 || node >= p->n_nodes || p->node_slot[node] < 0) return;
    int s = p->node_slot[node];
    bool dev = p->dk && p->ev_a[s] && p->n_pend < p->n_slots && p->dk->event_record(&p->ev_b[s]) == KN_OK;
    int64_t before = p->n_ev;
    kn_profiler_record(p, node, t0, t1, c);
    if (dev) p->pend[p->n_pend++] = (struct pending){s, p->n_ev > before ? p->n_ev - 1 : -1, t1 - t0, t0};
}

void kn_profiler_run_end(kn_profiler *p)
{
    if (!p || !p->dk || !p->n_pend) return;
    /* device start times: the first node's host start plus the device time since its event */
    const struct pending *first = &p->pend[0];
    for (int i = 0; i < p->n_pend; i++) {
        const struct pending *q = &p->pend[i];
        double dur, since;
        if (p->dk->event_elapsed(p->ev_a[q->slot], p->ev_b[q->slot], &dur) != KN_OK) continue;
        p->seconds[q->slot] += dur - q->host_dur;
        if (q->ev >= 0) {
            p->ev[q->ev].seconds = dur;
            if (p->dk->event_elapsed(p->ev_a[first->slot], p->ev_a[q->slot], &since) == KN_OK)
                p->ev[q->ev].start = first->host_t0 - p->origin + since;
        }
    }
    p->n_pend = 0;
}

static double numel(const kn_tensor *t) { return t ? (double)kn_tensor_numel(t) : 0.0; }

/* Ops that only move or reinterpret data: bytes, but no arithmetic. */
static bool data_movement(const char *op)
{
    static const char *const names[] = {"Transpose", "Concat", "Split", "Gather", "Slice", "Pad", "Expand",
                                        "Tile", "Identity", "Cast", "Constant", "Shape", "Size", "Squeeze",
                                        "Unsqueeze", "Reshape", "Flatten", "ConstantOfShape", "Dropout",
                                        "GatherElements", "ScatterElements", "DepthToSpace", "SpaceToDepth"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(op, names[i])) return true;
    return false;
}

/* Work of one execution, from the shapes it ran with. */
static void estimate(const kn_op_ctx *c, double *flops, double *bytes)
{
    const kn_node *n = c->node;
    const char *op = n->op_type;
    const kn_tensor *x = KN_IN(c, 0), *w = KN_IN(c, 1), *y = c->n_out > 0 ? c->out[0] : NULL;
    double f = 0.0, b = 0.0;
    bool aliased = (n->op->flags & KN_OP_VIEW) && x && y && y->data == x->data;
    if (!(n->op->flags & KN_OP_META_ONLY) && !aliased)
        for (int j = 0; j < c->n_in; j++)
            if (c->in[j] && c->in[j]->data) b += (double)kn_tensor_bytes(c->in[j]);
    if (!aliased)
        for (int j = 0; j < c->n_out; j++)
            if (c->out[j] && c->out[j]->data) b += (double)kn_tensor_bytes(c->out[j]);
    if ((!strcmp(op, "Conv") || !strcmp(op, "FusedConv")) && w && w->ndim >= 1 && w->shape[0] > 0) {
        /* each output element is one dot product over C/group x kernel = numel(W) / M; a
         * fused pooling's output is smaller than the convolution's by its window and strides */
        f = 2.0 * numel(y) * (numel(w) / (double)w->shape[0]);
        int64_t pk[2], ps[2] = {1, 1};
        int nk = -1, ns = -1;
        if (!strcmp(op, "FusedConv") && kn_attr_ints(n, "pool_kernel_shape", pk, 2, &nk) == KN_OK && nk == 2 &&
            kn_attr_ints(n, "pool_strides", ps, 2, &ns) == KN_OK && y && y->ndim == 4 && x && x->ndim == 4) {
            /* conv output rows/cols = (pooled - 1) * stride + window */
            const double ch = (double)((y->shape[2] - 1) * ps[0] + pk[0]), cw = (double)((y->shape[3] - 1) * ps[1] + pk[1]);
            f *= ch * cw / ((double)y->shape[2] * (double)y->shape[3]);
        }
        const kn_tensor *ws = KN_IN(c, 4), *ys = c->n_out > 1 ? c->out[1] : NULL; /* a side 1x1 */
        if (!strcmp(op, "FusedConv") && ws && ys && ws->ndim >= 1 && ws->shape[0] > 0)
            f += 2.0 * numel(ys) * (numel(ws) / (double)ws->shape[0]);
    } else if (!strcmp(op, "ConvTranspose") && w && w->ndim >= 1 && w->shape[0] > 0) {
        /* W is [C, M/group, k...]: each input element scatters numel(W) / C products */
        f = 2.0 * numel(x) * (numel(w) / (double)w->shape[0]);
    } else if ((!strcmp(op, "Gemm") || !strcmp(op, "FusedGemm")) && x && x->ndim == 2) {
        int64_t trans_a = 0;
        if (kn_attr_int(n, "transA", 0, &trans_a) != KN_OK) trans_a = 0;
        f = 2.0 * numel(y) * (double)x->shape[trans_a ? 0 : 1];
    } else if (!strcmp(op, "MatMul") && x && x->ndim >= 1) {
        f = 2.0 * numel(y) * (double)x->shape[x->ndim - 1];
    } else if ((n->op->flags & (KN_OP_META_ONLY | KN_OP_VIEW)) || data_movement(op)) {
        f = 0.0;
    } else {
        /* elementwise, pooling, normalisation, reductions: about one operation per element
         * of the larger side (a reduction reads more than it writes) */
        f = numel(y) > numel(x) ? numel(y) : numel(x);
    }
    *flops = f;
    *bytes = b;
}

void kn_profiler_record(kn_profiler *p, int node, double t0, double t1, const kn_op_ctx *c)
{
    if (!p || node < 0 || node >= p->n_nodes || p->node_slot[node] < 0) return;
    int s = p->node_slot[node];
    p->seconds[s] += t1 - t0;
    p->calls[s]++;
    estimate(c, &p->flops[s], &p->bytes[s]);
    if (p->n_ev == p->cap_ev) {
        if (p->cap_ev >= KN_PROFILE_MAX_EVENTS) return;
        int64_t cap = p->cap_ev ? p->cap_ev * 2 : 1024;
        if (cap > KN_PROFILE_MAX_EVENTS) cap = KN_PROFILE_MAX_EVENTS;
        kn_node_event *ev = realloc(p->ev, (size_t)cap * sizeof *ev);
        if (!ev) return;
        p->ev = ev;
        p->cap_ev = cap;
    }
    p->ev[p->n_ev++] = (kn_node_event){s, t0 - p->origin, t1 - t0};
}

int kn_session_profile(const kn_session *s, kn_node_profile *out, int max)
{
    const kn_profiler *p = kn_session_profiler(s);
    if (!p) return 0;
    for (int i = 0; out && i < p->n_slots && i < max; i++) {
        const kn_node *n = &p->g->nodes[p->slot_node[i]];
        out[i] = (kn_node_profile){.name = n->name,
                                   .op_type = n->op_type,
                                   .domain = n->domain,
                                   .seconds = p->seconds[i],
                                   .calls = p->calls[i],
                                   .flops = p->flops[i],
                                   .bytes = p->bytes[i]};
    }
    return p->n_slots;
}

void kn_session_profile_reset(kn_session *s)
{
    kn_profiler *p = kn_session_profiler(s);
    if (!p) return;
    for (int i = 0; i < p->n_slots; i++) {
        p->seconds[i] = 0;
        p->calls[i] = 0;
    }
    p->n_ev = 0; /* keep the capacity: the next profiled runs record the same count */
    p->n_pend = 0;
    p->origin = kn_profiler_now();
}

int64_t kn_session_profile_events(const kn_session *s, kn_node_event *out, int64_t max)
{
    const kn_profiler *p = kn_session_profiler(s);
    if (!p) return 0;
    int64_t n = p->n_ev < max ? p->n_ev : max;
    if (out && n > 0) memcpy(out, p->ev, (size_t)n * sizeof *out);
    return p->n_ev;
}

/* A JSON string literal: quotes, backslashes and control characters escaped. */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
        if (*c == '"' || *c == '\\') fprintf(f, "\\%c", *c);
        else if (*c < 0x20) fprintf(f, "\\u%04x", *c);
        else fputc(*c, f);
    }
    fputc('"', f);
}

kn_status kn_session_write_trace(const kn_session *s, const char *path)
{
    const kn_profiler *p = kn_session_profiler(s);
    if (!p) return kn_error(KN_ERR_INVALID, "no profile to write: the session was created without opts.profile");
    FILE *f = fopen(path, "w");
    if (!f) return kn_error(KN_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    fprintf(f, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
    fprintf(f, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":1,\"args\":{\"name\":\"kiln session\"}}");
    for (int64_t i = 0; i < p->n_ev; i++) {
        const kn_node_event *e = &p->ev[i];
        const kn_node *n = &p->g->nodes[p->slot_node[e->node]];
        fprintf(f, ",\n{\"name\":");
        json_string(f, n->name);
        fprintf(f, ",\"cat\":\"node\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":1,\"tid\":1,\"args\":{\"op\":",
                e->start * 1e6, e->seconds * 1e6);
        json_string(f, n->op_type);
        fprintf(f, ",\"flops\":%.0f}}", p->flops[e->node]);
    }
    fprintf(f, "\n]}\n");
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad) return kn_error(KN_ERR_IO, "error writing '%s'", path);
    return KN_OK;
}
