/* kiln — dynamic batching for inference servers.
 *
 * A kn_batcher collects single-sample requests from many threads into batches
 * and runs each batch through one session in one call, so a server handling
 * one request per thread gets the throughput of batched GEMMs.
 *
 *   kn_batcher *b;
 *   kn_batcher_create(&b, graph, NULL, 8, 2000);     // up to 8 samples, wait <= 2 ms
 *   // on any thread, any number at once:
 *   kn_tensor y[1];
 *   kn_batcher_infer(b, (const kn_tensor *[]){&x1}, 1, y, 1);  // x1: [1, 4]
 *   ... use y[0] ([1, out]) ...; kn_tensor_release(&y[0]);
 *   kn_batcher_free(b);
 *
 * Ownership: the batcher creates and owns its session (and thread). The graph is
 * only read during kn_batcher_create; the session keeps what it needs (parameters
 * are shared through refcounted buffers), so the caller may free the graph after.
 *
 * Samples: each request is ONE sample: every graph input given with its leading
 * (batch) dim equal to 1, host tensors, the graph input's rank and dtype and its
 * fixed dims. Every graph input needs a dynamic leading dim. Results come back the
 * same way: each graph output with leading dim 1, in host memory.
 *
 * Batching: one worker thread takes the oldest queued request and, in arrival order,
 * the queued requests whose inputs have the same shapes (dims after the first; these
 * differ only for graphs with dynamic non-batch dims), up to max_batch. It starts when
 * max_batch requests are queued or max_wait_us after the oldest was queued, whichever
 * comes first. Requests of another shape stay queued for the next batch, so every
 * valid request is served. Inputs are concatenated along dim 0, the session runs
 * once, and every output is split along dim 0 back to its caller. An error in that
 * run (or an output whose leading dim is not the batch size) fails every request of
 * the batch with the same message. Requests queued while a batch runs form the next
 * one, so under load batches fill without waiting. */
#ifndef KN_BATCHER_H
#define KN_BATCHER_H

#include "nn/session.h"

typedef struct kn_batcher kn_batcher;

/* max_batch >= 1; max_wait_us >= 0 (0: run whatever is queued at once). opts may be
 * NULL (kn_session_defaults()); training sessions are refused. */
kn_status kn_batcher_create(kn_batcher **out, const kn_graph *g, const kn_session_opts *opts,
                            int max_batch, int64_t max_wait_us);

/* Run one sample; blocks until its batch has run. Thread-safe.
 * inputs[i] feeds graph input i (n_inputs must equal the graph's input count); they are
 * read only while the call lasts. outputs must have room for n_outputs tensors, one per
 * graph output (n_outputs must equal kn_batcher_num_outputs): on KN_OK each holds a new
 * host tensor the caller releases with kn_tensor_release; on error each is left
 * shape-only (nothing to release) and kn_last_error() on the calling thread says why:
 * a bad sample names the input and both shapes, a failed batch run gives the
 * session's message. After kn_batcher_close this fails with KN_ERR_INVALID. */
kn_status kn_batcher_infer(kn_batcher *b, const kn_tensor *const *inputs, int n_inputs,
                           kn_tensor *outputs, int n_outputs);

int kn_batcher_num_inputs(const kn_batcher *b);
int kn_batcher_num_outputs(const kn_batcher *b);

typedef struct kn_batcher_counts {
    int64_t batches;    /* session runs */
    int64_t requests;   /* requests that went through a run (served or failed by it) */
    int64_t failed;     /* of those, requests that got an error */
    double mean_batch;  /* requests / batches (0 before the first batch) */
    int largest_batch;  /* never more than max_batch */
    int pending;        /* queued now, not yet taken into a batch */
} kn_batcher_counts;

/* A consistent snapshot into *out; safe while other threads infer. */
void kn_batcher_stats(kn_batcher *b, kn_batcher_counts *out);

/* Stop accepting requests, run every request already queued (without waiting out
 * max_wait_us), join the worker thread. Later kn_batcher_infer calls fail. Safe to call
 * while other threads are inside kn_batcher_infer, and more than once. */
void kn_batcher_close(kn_batcher *b);

/* Close, wait until every caller blocked in kn_batcher_infer has returned, then free
 * the session and everything else. Callers already inside kn_batcher_infer finish
 * normally; no call may START after kn_batcher_free begins (use kn_batcher_close first,
 * then stop your threads, when that cannot be guaranteed). NULL is a no-op. */
void kn_batcher_free(kn_batcher *b);

#endif
