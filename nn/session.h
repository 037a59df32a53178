/* kiln — sessions: a planned, runnable graph.
 *
 * A session owns a copy of the graph (parameters shared with the caller's
 * graph through refcounted buffers, so training updates are visible to the
 * caller and to export), the execution order, one tensor per value, per-node
 * state and scratch. Inference sessions may optimize their copy (level 1/2);
 * training sessions keep every activation for the backward pass.
 *
 * Shapes are re-inferred per run, cheaply; buffers are re-planned only when a
 * shape changes (a new batch size), so steady-state runs allocate nothing. */
#ifndef KN_SESSION_H
#define KN_SESSION_H

#include "nn/graph.h"
#include "core/kernels.h"

typedef struct kn_session kn_session;

typedef struct kn_session_opts {
    kn_device device; /* KN_CPU default */
    int level;        /* inference optimizer level 0, 1, 2 (ignored when training); 2 also
                       * packs constant Gemm/Conv weights once, on the first run */
    bool training;    /* forward in training mode, keep activations, enable backward */
    int threads;      /* 0 = leave the process setting alone */
    bool profile;     /* time every node (see kn_session_profile) */
    uint64_t seed;    /* dropout RNG */
    const char *disabled_passes; /* comma-separated pass names to skip (see nn/passes) */
    /* Data-parallel replicas on the CPU (nn/split.h): a batch of at least
     * KN_SPLIT_MIN_ROWS rows per replica is cut into `replicas` slices along axis 0,
     * each run on its own thread with single-threaded kernels; training sums the
     * slices' gradients (and BatchNormalization shares whole-batch statistics), so a
     * step is the whole batch's step up to float summation order. 0 or 1: off;
     * KN_REPLICAS_AUTO: one per thread (kn_get_num_threads) for graphs with convolutions
     * or pooling, off for GEMM-only graphs (faster op by op, measured). Ignored, with the reason in
     * kn_session_replicas, when the graph mixes batch rows, on other devices, and
     * when profiling. With replicas, kn_session_value/value_grad show replica 0's
     * slice; outputs, loss and parameter gradients are the whole batch's. */
    int replicas;
    /* Level 2 places the intermediates in one arena by liveness only when, unplanned,
     * they take more than this many bytes (kn_session_defaults: KN_PLAN_MIN_BYTES; 0:
     * always). On the CPU smaller activations stay in the cores' caches, where sharing
     * slots costs more than the memory saves: a slot written by both threads in one
     * layer and by one in another moves its lines between the cores (resnet_small at
     * batch 1 ran 6-8% slower planned, 2 threads, 1-5% on one). Other devices always
     * plan. */
    size_t plan_min_bytes;
} kn_session_opts;

#define KN_PLAN_MIN_BYTES ((size_t)1 << 20)
#define KN_REPLICAS_AUTO (-1)
#define KN_SPLIT_MIN_ROWS 4

kn_session_opts kn_session_defaults(void);

kn_status kn_session_create(kn_session **out, const kn_graph *g, const kn_session_opts *opts);
void kn_session_free(kn_session *s);

/* The session's (possibly optimized) graph; owned by the session. */
const kn_graph *kn_session_graph(const kn_session *s);

/* Run forward. inputs[i] feeds graph input i (host tensors; copied to the device as
 * needed). Their dtype and rank must match the graph input, fixed dims must match. */
kn_status kn_session_run(kn_session *s, const kn_tensor *const *inputs, int n_inputs);
/* Graph output i of the last run, or NULL. Owned by the session, valid until the next run. */
const kn_tensor *kn_session_output(const kn_session *s, int i);
/* Any value of the last run by name (training keeps all; inference may reuse buffers). */
const kn_tensor *kn_session_value(const kn_session *s, const char *name);
/* Loss of the last training run. */
float kn_session_loss(const kn_session *s);

/* Replicas the session splits batches across (1 = none); *why (may be NULL) gets the
 * reason when replicas were asked for but the session runs without them, else "". */
int kn_session_replicas(const kn_session *s, const char **why);
/* Whether the last run was split across replicas (batches under KN_SPLIT_MIN_ROWS per
 * replica, or a run from inside another OpenMP parallel region, run whole). */
bool kn_session_last_run_split(const kn_session *s);

/* Backward from the graph's loss: fills the parameter gradients. */
kn_status kn_session_backward(kn_session *s);
/* Trainable parameters (shared with the graph) and their gradients, in a stable order.
 * An inference session at level 2 fixes its weights when it is created and run (folded
 * BatchNormalization, pretransposed and prepacked copies): write parameters through a
 * training or level 0/1 session, or create the level-2 session after changing them. */
int kn_session_num_params(const kn_session *s);
kn_tensor *kn_session_param(kn_session *s, int i);
const kn_tensor *kn_session_grad(const kn_session *s, int i);
const char *kn_session_param_name(const kn_session *s, int i);
/* Gradient of any value by name after backward (NULL if none flowed). */
const kn_tensor *kn_session_value_grad(const kn_session *s, const char *name);

/* Copy parameters and state (BN running statistics) from the session's device back
 * into the graph it was created from (their host buffers are shared). A no-op on the
 * CPU, where the session works on the graph's buffers directly. Call it before
 * exporting or evaluating a model trained on a GPU. */
kn_status kn_session_sync_graph(kn_session *s);
/* Inference on a device runs a node whose kernel that device lacks on the CPU instead
 * (inputs copied to the host, outputs back); this counts such nodes so far. Training
 * on a device reports the missing kernel instead. */
int kn_session_nodes_on_host(const kn_session *s);

/* Run warm-up iterations with the given inputs (plans buffers, caches algorithms). */
kn_status kn_session_warmup(kn_session *s, const kn_tensor *const *inputs, int n_inputs,
                            int iters);

/* What the optimizer did when the session was created (level 1/2); NULL at level 0. */
struct kn_pass_report;
const struct kn_pass_report *kn_session_pass_report(const kn_session *s);

/* Memory: bytes held by activations (planned arena + unplanned buffers), and whether the
 * level-2 memory plan (buffers reused by liveness) is active for the current input shapes. */
size_t kn_session_activation_bytes(const kn_session *s);
/* True when the last run's shapes got an arena (see plan_min_bytes). */
bool kn_session_memory_planned(const kn_session *s);

/* Per-node profile, collected when opts.profile is set. Node i is the i-th executed node. */
typedef struct kn_node_profile {
    const char *name;    /* fused nodes list what they absorbed: "conv1+bn1+relu1" */
    const char *op_type; /* "FusedConv" etc. */
    const char *domain;
    double seconds;      /* total over calls */
    int64_t calls;
    double flops;        /* per call, from the last run's shapes (0 when not counted) */
    double bytes;        /* per call: inputs read + outputs written */
} kn_node_profile;
/* Copies min(count, max) entries (out may be NULL with max 0) and returns the count: every
 * node the session runs, in execution order, 0 when profiling is off. Names point into the
 * session's graph. flops: 2 x multiply-adds for Conv/FusedConv/ConvTranspose/Gemm/FusedGemm/
 * MatMul, about one per output element for elementwise ops, 0 for pure data movement. */
int kn_session_profile(const kn_session *s, kn_node_profile *out, int max);
/* Zero the totals and forget the recorded events (e.g. after warm-up runs). */
void kn_session_profile_reset(kn_session *s);

/* One node execution recorded while profiling, for timelines. */
typedef struct kn_node_event {
    int node;       /* index into kn_session_profile's list */
    double start;   /* seconds since the session was created or the profile last reset */
    double seconds; /* duration */
} kn_node_event;
/* At most KN_PROFILE_MAX_EVENTS events are kept per profile (later ones are dropped, their
 * time still counts in kn_session_profile), so a long profiled run cannot exhaust memory. */
#define KN_PROFILE_MAX_EVENTS ((int64_t)1 << 22)
/* Copies min(count, max) events in execution order and returns the count. */
int64_t kn_session_profile_events(const kn_session *s, kn_node_event *out, int64_t max);
/* Write the recorded events as Chrome trace-event JSON (chrome://tracing, Perfetto): one
 * complete ("X") event per node execution, ts/dur in microseconds, args {op, flops}. */
kn_status kn_session_write_trace(const kn_session *s, const char *path);

#endif
