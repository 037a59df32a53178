/* Dynamic batching: callers queue requests that live on their own stacks and
 * sleep on a per-request condition variable; one worker thread forms batches,
 * runs the session and wakes each caller. All shared state is under one mutex;
 * the session, staging buffers and counters of a running batch are touched by
 * the worker only, so the session (not thread-safe) never sees two threads. */
#include "nn/batcher.h"
#include "core/threads.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Caps that keep deadline arithmetic and the batch array sane. */
#define MAX_BATCH_LIMIT 65536
#define MAX_WAIT_US_LIMIT (3600LL * 1000000LL)

typedef struct request {
    const kn_tensor *const *inputs; /* the caller's, valid while it waits */
    kn_tensor *outputs;             /* the caller's array, filled by the worker */
    int64_t enqueued_ns;
    kn_status st;
    char msg[1024];                 /* kn_last_error is per thread: carried to the caller */
    bool done;
    pthread_cond_t done_cv;
    struct request *next;
} request;

typedef struct in_meta {
    char *name;
    kn_dtype dtype;
    int ndim; /* -1: any rank */
    int64_t shape[KN_MAX_DIMS];
} in_meta;

struct kn_batcher {
    kn_session *s;
    int n_in, n_out;
    in_meta *in;
    char **out_names;
    int max_batch;
    int64_t max_wait_ns;
    int threads;

    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* worker: a request arrived, a batch filled, or close */
    pthread_cond_t idle_cv; /* free: the last caller left kn_batcher_infer */
    request *head, *tail;
    int pending;
    int callers;
    bool closing;
    kn_batcher_counts counts;

    pthread_mutex_t join_mu; /* serialises close so the worker is joined exactly once */
    pthread_t worker;
    bool worker_running;

    /* worker only */
    request **batch;
    const kn_tensor **stage_ptrs;
    kn_tensor *stage;    /* concatenated inputs, reused while shapes repeat */
    kn_tensor *host_out; /* outputs copied off a device session */
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int kn_batcher_num_inputs(const kn_batcher *b) { return b->n_in; }
int kn_batcher_num_outputs(const kn_batcher *b) { return b->n_out; }

/* ---- the worker ---- */

static bool same_sample_shape(const kn_batcher *b, const request *a, const request *c)
{
    for (int i = 0; i < b->n_in; i++) {
        const kn_tensor *x = a->inputs[i], *y = c->inputs[i];
        if (x->dtype != y->dtype || !kn_shape_equal(x->ndim, x->shape, y->ndim, y->shape)) return false;
    }
    return true;
}

/* Under the lock: unlink the oldest request and, in arrival order, the queued ones of
 * its shape, up to max_batch. Others keep their place for a later batch. */
static int take_batch(kn_batcher *b)
{
    request *first = b->head;
    int n = 0;
    b->batch[n++] = first;
    b->head = first->next;
    request *prev = NULL;
    for (request *r = b->head; r && n < b->max_batch;) {
        request *next = r->next;
        if (same_sample_shape(b, first, r)) {
            b->batch[n++] = r;
            if (prev) prev->next = next;
            else b->head = next;
        } else {
            prev = r;
        }
        r = next;
    }
    b->tail = NULL;
    for (request *r = b->head; r; r = r->next) b->tail = r; /* the old tail may have been taken */
    b->pending -= n;
    return n;
}

static void fail_request(request *r, int n_out, kn_status st, const char *msg)
{
    for (int o = 0; o < n_out; o++) {
        kn_tensor_release(&r->outputs[o]);
        memset(&r->outputs[o], 0, sizeof r->outputs[o]);
    }
    r->st = st;
    snprintf(r->msg, sizeof r->msg, "%s", msg);
}

static kn_status stage_inputs(kn_batcher *b, int n)
{
    for (int i = 0; i < b->n_in; i++) {
        const kn_tensor *t0 = b->batch[0]->inputs[i];
        int64_t shape[KN_MAX_DIMS];
        memcpy(shape, t0->shape, sizeof(int64_t) * (size_t)t0->ndim);
        shape[0] = n;
        kn_tensor *st = &b->stage[i];
        KN_TRY(kn_tensor_ensure_on(st, t0->dtype, t0->ndim, shape, KN_CPU, NULL));
        size_t bytes = kn_tensor_bytes(t0);
        for (int r = 0; r < n && bytes; r++)
            memcpy((char *)st->data + (size_t)r * bytes, b->batch[r]->inputs[i]->data, bytes);
        b->stage_ptrs[i] = st;
    }
    return KN_OK;
}

/* The host copy of output o of the last run, checked to be splittable into n samples. */
static kn_status batch_output(kn_batcher *b, int o, int n, const kn_tensor **out)
{
    const kn_tensor *y = kn_session_output(b->s, o);
    char sh[160];
    if (!y) return kn_error(KN_ERR_INTERNAL, "output '%s' was not produced", b->out_names[o]);
    if (y->dtype == KN_STRING)
        return kn_error(KN_ERR_UNSUPPORTED, "output '%s' is a string tensor; the batcher splits numeric outputs only",
                        b->out_names[o]);
    if (y->ndim < 1 || y->shape[0] != n)
        return kn_error(KN_ERR_SHAPE, "output '%s' has shape %s for a batch of %d: its leading dim is not the batch, so it cannot be split per request",
                        b->out_names[o], kn_shape_str(sh, sizeof sh, y->ndim, y->shape), n);
    if (y->device != KN_CPU) {
        kn_tensor_release(&b->host_out[o]);
        KN_TRY(kn_tensor_to(&b->host_out[o], y, KN_CPU));
        y = &b->host_out[o];
    }
    *out = y;
    return KN_OK;
}

static void run_batch(kn_batcher *b, int n)
{
    kn_status st = stage_inputs(b, n);
    if (st == KN_OK) st = kn_session_run(b->s, b->stage_ptrs, b->n_in);
    for (int o = 0; st == KN_OK && o < b->n_out; o++) {
        const kn_tensor *y = NULL;
        st = batch_output(b, o, n, &y);
        if (st != KN_OK) break;
        int64_t shape[KN_MAX_DIMS];
        memcpy(shape, y->shape, sizeof(int64_t) * (size_t)y->ndim);
        shape[0] = 1;
        size_t bytes = kn_tensor_bytes(y) / (size_t)n;
        for (int r = 0; r < n; r++) {
            request *q = b->batch[r];
            if (q->st != KN_OK) continue;
            kn_status rs = kn_tensor_init(&q->outputs[o], y->dtype, y->ndim, shape);
            if (rs != KN_OK) { fail_request(q, b->n_out, rs, kn_last_error()); continue; }
            if (bytes) memcpy(q->outputs[o].data, (const char *)y->data + (size_t)r * bytes, bytes);
        }
    }
    if (st != KN_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "batched run of %d request%s: %s", n, n == 1 ? "" : "s", kn_last_error());
        for (int r = 0; r < n; r++) fail_request(b->batch[r], b->n_out, st, msg);
    }
    /* host copies of device outputs are needed only for the split */
    for (int o = 0; o < b->n_out; o++) kn_tensor_release(&b->host_out[o]);
}

static void *worker_main(void *arg)
{
    kn_batcher *b = arg;
#ifdef _OPENMP
    /* OpenMP's thread count is per-thread state: a new thread starts from the default,
     * not from what kn_set_num_threads set on the creating thread. */
    omp_set_num_threads(b->threads);
#endif
    pthread_mutex_lock(&b->mu);
    for (;;) {
        if (!b->head) {
            if (b->closing) break;
            pthread_cond_wait(&b->work_cv, &b->mu);
            continue;
        }
        if (!b->closing && b->pending < b->max_batch) {
            int64_t deadline = b->head->enqueued_ns + b->max_wait_ns;
            if (now_ns() < deadline) {
                struct timespec ts = {.tv_sec = deadline / 1000000000LL, .tv_nsec = deadline % 1000000000LL};
                pthread_cond_timedwait(&b->work_cv, &b->mu, &ts);
                continue; /* re-check: woken early, timed out, or spuriously */
            }
        }
        int n = take_batch(b);
        pthread_mutex_unlock(&b->mu);
        run_batch(b, n);
        pthread_mutex_lock(&b->mu);
        b->counts.batches++;
        b->counts.requests += n;
        if (n > b->counts.largest_batch) b->counts.largest_batch = n;
        for (int r = 0; r < n; r++) {
            request *q = b->batch[r];
            if (q->st != KN_OK) b->counts.failed++;
            q->done = true;
            /* signalled under the lock: the waiter cannot destroy done_cv before we return */
            pthread_cond_signal(&q->done_cv);
        }
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ---- the callers' side ---- */

static kn_status check_sample(const kn_batcher *b, int i, const kn_tensor *t)
{
    const in_meta *m = &b->in[i];
    char want[160], got[160];
    if (!t || !t->data)
        return kn_error(KN_ERR_INVALID, "kn_batcher_infer: input %d ('%s') has no data", i, m->name);
    if (t->device != KN_CPU)
        return kn_error(KN_ERR_INVALID, "kn_batcher_infer: input '%s' must be a host tensor", m->name);
    if (t->dtype == KN_STRING)
        return kn_error(KN_ERR_UNSUPPORTED, "kn_batcher_infer: input '%s' is a string tensor; only numeric inputs are batched",
                        m->name);
    if (m->dtype != KN_UNDEFINED && t->dtype != m->dtype)
        return kn_error(KN_ERR_SHAPE, "kn_batcher_infer: input '%s' must be %s, got %s", m->name,
                        kn_dtype_name(m->dtype), kn_dtype_name(t->dtype));
    int64_t shape[KN_MAX_DIMS];
    int nd = m->ndim >= 0 ? m->ndim : t->ndim;
    memcpy(shape, m->ndim >= 0 ? m->shape : t->shape, sizeof(int64_t) * (size_t)nd);
    if (nd > 0) shape[0] = 1;
    bool fits = t->ndim == nd && nd >= 1;
    for (int d = 0; fits && d < nd; d++) fits = shape[d] < 0 || shape[d] == t->shape[d];
    if (!fits)
        return kn_error(KN_ERR_SHAPE, "kn_batcher_infer: input '%s' must be one sample of shape %s (leading batch dim 1), got %s",
                        m->name, m->ndim >= 0 ? kn_shape_str(want, sizeof want, nd, shape) : "[1,...]",
                        kn_shape_str(got, sizeof got, t->ndim, t->shape));
    return KN_OK;
}

kn_status kn_batcher_infer(kn_batcher *b, const kn_tensor *const *inputs, int n_inputs,
                           kn_tensor *outputs, int n_outputs)
{
    if (!b) return kn_error(KN_ERR_INVALID, "kn_batcher_infer: no batcher");
    if (n_outputs != b->n_out || (n_outputs > 0 && !outputs))
        return kn_error(KN_ERR_INVALID, "kn_batcher_infer: the model has %d outputs, room for %d was given",
                        b->n_out, outputs ? n_outputs : 0);
    for (int o = 0; o < n_outputs; o++) memset(&outputs[o], 0, sizeof outputs[o]);
    if (n_inputs != b->n_in || (n_inputs > 0 && !inputs))
        return kn_error(KN_ERR_INVALID, "kn_batcher_infer: the model takes %d inputs, %d were given", b->n_in,
                        inputs ? n_inputs : 0);
    for (int i = 0; i < n_inputs; i++) KN_TRY(check_sample(b, i, inputs[i]));

    request r;
    memset(&r, 0, sizeof r);
    r.inputs = inputs;
    r.outputs = outputs;
    if (pthread_cond_init(&r.done_cv, NULL) != 0)
        return kn_error(KN_ERR_NOMEM, "kn_batcher_infer: could not create a condition variable");
    pthread_mutex_lock(&b->mu);
    if (b->closing) {
        pthread_mutex_unlock(&b->mu);
        pthread_cond_destroy(&r.done_cv);
        return kn_error(KN_ERR_INVALID, "kn_batcher_infer: the batcher is closed");
    }
    r.enqueued_ns = now_ns();
    if (b->tail) b->tail->next = &r;
    else b->head = &r;
    b->tail = &r;
    b->pending++;
    b->callers++;
    /* The worker sleeps untimed on an empty queue and until the deadline otherwise:
     * only the first request and a full batch change what it should do. */
    if (b->pending == 1 || b->pending >= b->max_batch) pthread_cond_signal(&b->work_cv);
    while (!r.done) pthread_cond_wait(&r.done_cv, &b->mu);
    b->callers--;
    if (b->callers == 0 && b->closing) pthread_cond_broadcast(&b->idle_cv);
    pthread_mutex_unlock(&b->mu);
    pthread_cond_destroy(&r.done_cv);
    if (r.st != KN_OK) return kn_error(r.st, "%s", r.msg);
    return KN_OK;
}

void kn_batcher_stats(kn_batcher *b, kn_batcher_counts *out)
{
    if (!b || !out) return;
    pthread_mutex_lock(&b->mu);
    *out = b->counts;
    out->pending = b->pending;
    out->mean_batch = b->counts.batches ? (double)b->counts.requests / (double)b->counts.batches : 0.0;
    pthread_mutex_unlock(&b->mu);
}

/* ---- life cycle ---- */

void kn_batcher_close(kn_batcher *b)
{
    if (!b) return;
    pthread_mutex_lock(&b->join_mu);
    if (b->worker_running) {
        pthread_mutex_lock(&b->mu);
        b->closing = true;
        pthread_cond_signal(&b->work_cv);
        pthread_mutex_unlock(&b->mu);
        pthread_join(b->worker, NULL); /* it drains the queue before it exits */
        b->worker_running = false;
    }
    pthread_mutex_unlock(&b->join_mu);
}

static void destroy(kn_batcher *b, bool sync_ready)
{
    if (sync_ready) {
        pthread_cond_destroy(&b->work_cv);
        pthread_cond_destroy(&b->idle_cv);
        pthread_mutex_destroy(&b->mu);
        pthread_mutex_destroy(&b->join_mu);
    }
    for (int i = 0; b->in && i < b->n_in; i++) free(b->in[i].name);
    for (int o = 0; b->out_names && o < b->n_out; o++) free(b->out_names[o]);
    for (int i = 0; b->stage && i < b->n_in; i++) kn_tensor_release(&b->stage[i]);
    for (int o = 0; b->host_out && o < b->n_out; o++) kn_tensor_release(&b->host_out[o]);
    free(b->in);
    free(b->out_names);
    free(b->stage);
    free(b->stage_ptrs);
    free(b->host_out);
    free(b->batch);
    kn_session_free(b->s);
    free(b);
}

void kn_batcher_free(kn_batcher *b)
{
    if (!b) return;
    kn_batcher_close(b);
    /* callers woken by the last batch may not have left kn_batcher_infer yet */
    pthread_mutex_lock(&b->mu);
    while (b->callers > 0) pthread_cond_wait(&b->idle_cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
    destroy(b, true);
}

static kn_status check_graph(const kn_graph *g, const kn_session_opts *opts, int max_batch, int64_t max_wait_us)
{
    if (!g) return kn_error(KN_ERR_INVALID, "kn_batcher_create: no graph");
    if (max_batch < 1 || max_batch > MAX_BATCH_LIMIT)
        return kn_error(KN_ERR_INVALID, "kn_batcher_create: max_batch must be in 1..%d, got %d", MAX_BATCH_LIMIT, max_batch);
    if (max_wait_us < 0 || max_wait_us > MAX_WAIT_US_LIMIT)
        return kn_error(KN_ERR_INVALID, "kn_batcher_create: max_wait_us must be in 0..%lld, got %lld",
                        (long long)MAX_WAIT_US_LIMIT, (long long)max_wait_us);
    if (opts && opts->training) return kn_error(KN_ERR_INVALID, "kn_batcher_create: the batcher serves inference; training sessions are refused");
    if (g->n_inputs < 1) return kn_error(KN_ERR_INVALID, "kn_batcher_create: the graph has no inputs to batch");
    for (int i = 0; i < g->n_inputs; i++) {
        const kn_value *v = &g->values[g->inputs[i]];
        char sh[160];
        if (v->dtype == KN_STRING)
            return kn_error(KN_ERR_UNSUPPORTED, "kn_batcher_create: input '%s' is a string tensor; only numeric inputs are batched", v->name);
        if (v->ndim == 0 || (v->ndim > 0 && v->shape[0] != KN_DIM_UNKNOWN))
            return kn_error(KN_ERR_SHAPE, "kn_batcher_create: input '%s' has shape %s; batching needs a dynamic leading (batch) dim",
                            v->name, kn_shape_str(sh, sizeof sh, v->ndim, v->shape));
    }
    return KN_OK;
}

kn_status kn_batcher_create(kn_batcher **out, const kn_graph *g, const kn_session_opts *opts,
                            int max_batch, int64_t max_wait_us)
{
    if (!out) return kn_error(KN_ERR_INVALID, "kn_batcher_create: no output pointer");
    *out = NULL;
    KN_TRY(check_graph(g, opts, max_batch, max_wait_us));
    kn_batcher *b = calloc(1, sizeof *b);
    if (!b) return kn_error(KN_ERR_NOMEM, "out of memory creating a batcher");
    b->max_batch = max_batch;
    b->max_wait_ns = max_wait_us * 1000;
    b->threads = opts && opts->threads > 0 ? opts->threads : kn_get_num_threads();
    kn_status st = kn_session_create(&b->s, g, opts);
    if (st != KN_OK) { destroy(b, false); return st; }
    b->n_in = g->n_inputs;
    b->n_out = g->n_outputs;
    size_t ni = (size_t)b->n_in, no = (size_t)(b->n_out ? b->n_out : 1);
    b->in = calloc(ni, sizeof *b->in);
    b->out_names = calloc(no, sizeof *b->out_names);
    b->stage = calloc(ni, sizeof *b->stage);
    b->stage_ptrs = calloc(ni, sizeof *b->stage_ptrs);
    b->host_out = calloc(no, sizeof *b->host_out);
    b->batch = calloc((size_t)max_batch, sizeof *b->batch);
    bool ok = b->in && b->out_names && b->stage && b->stage_ptrs && b->host_out && b->batch;
    for (int i = 0; ok && i < b->n_in; i++) {
        const kn_value *v = &g->values[g->inputs[i]];
        in_meta *m = &b->in[i];
        m->name = strdup(v->name ? v->name : "");
        m->dtype = v->dtype;
        m->ndim = v->ndim;
        if (v->ndim > 0) memcpy(m->shape, v->shape, sizeof(int64_t) * (size_t)v->ndim);
        ok = m->name != NULL;
    }
    for (int o = 0; ok && o < b->n_out; o++) {
        const char *name = g->values[g->outputs[o]].name;
        ok = (b->out_names[o] = strdup(name ? name : "")) != NULL;
    }
    if (!ok) { destroy(b, false); return kn_error(KN_ERR_NOMEM, "out of memory creating a batcher"); }

    pthread_condattr_t ca;
    bool sync_ok = pthread_condattr_init(&ca) == 0;
    /* deadlines are monotonic so a wall-clock jump cannot stall or rush a batch */
    bool ca_ok = sync_ok && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0;
    int n_ok = 0;
    if (ca_ok) {
        n_ok += pthread_mutex_init(&b->mu, NULL) == 0;
        n_ok += pthread_mutex_init(&b->join_mu, NULL) == 0;
        n_ok += pthread_cond_init(&b->work_cv, &ca) == 0;
        n_ok += pthread_cond_init(&b->idle_cv, NULL) == 0;
    }
    if (sync_ok) pthread_condattr_destroy(&ca);
    if (n_ok != 4) {
        /* the default attributes used here do not fail on Linux; leak nothing else if they do */
        destroy(b, false);
        return kn_error(KN_ERR_INTERNAL, "kn_batcher_create: could not initialise its locks");
    }
    int rc = pthread_create(&b->worker, NULL, worker_main, b);
    if (rc != 0) {
        destroy(b, true);
        return kn_error(rc == EAGAIN ? KN_ERR_NOMEM : KN_ERR_INTERNAL,
                        "kn_batcher_create: could not start the worker thread (%s)", strerror(rc));
    }
    b->worker_running = true;
    *out = b;
    return KN_OK;
}
