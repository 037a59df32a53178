/* kiln — the session profiler (internal to nn/: the session owns one when
 * opts.profile is set and reports every node execution to it).
 *
 * Kept out of session.c so the run loop only pays one branch when profiling
 * is off; the public view is kn_session_profile / kn_session_profile_events /
 * kn_session_write_trace in nn/session.h. */
#ifndef KN_PROFILE_H
#define KN_PROFILE_H

#include "nn/op.h"
#include "nn/session.h"

typedef struct kn_profiler kn_profiler;

/* One slot per planned node, in execution order (order[0..n_order)). */
kn_status kn_profiler_create(kn_profiler **out, const kn_graph *g, const int *order, int n_order);
void kn_profiler_free(kn_profiler *p);
/* Monotonic clock in seconds (the profiler's time base). */
double kn_profiler_now(void);
/* Node `node` ran its forward from t0 to t1 (kn_profiler_now) with the tensors in c.
 * Never fails: an event that cannot be stored is dropped (totals still count it). */
void kn_profiler_record(kn_profiler *p, int node, double t0, double t1, const kn_op_ctx *c);

/* A device with events (kernel table event_*): node times become device times, taken
 * between events recorded around each node, without a sync per node. Call once after
 * create; k NULL (the CPU) keeps the host clock. */
void kn_profiler_use_device(kn_profiler *p, const kn_kernels *k);
/* Around each node's forward: begin records the node's start event (device) ... */
void kn_profiler_node_begin(kn_profiler *p, int node);
/* ... end its end event and records the node as kn_profiler_record does. With events,
 * the duration is the host launch time until kn_profiler_run_end replaces it. */
void kn_profiler_node_end(kn_profiler *p, int node, double t0, double t1, const kn_op_ctx *c);
/* After a run's last node: waits for the device and puts each node's device time in
 * place of its launch time (totals and timeline). */
void kn_profiler_run_end(kn_profiler *p);

/* The session's profiler, or NULL when profiling is off (defined in session.c). */
kn_profiler *kn_session_profiler(const kn_session *s);

#endif
