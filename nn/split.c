/* Replica groups (barrier, all-reduce) and the check of which graphs may be
 * split along the batch axis. See nn/split.h. */
#include "nn/split.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

struct kn_group {
    int n;
    atomic_int arrived;
    atomic_int generation;
    atomic_int failed;
    double *slot[KN_MAX_REPLICAS];  /* all-reduce: each rank's contribution */
    double *sum[KN_MAX_REPLICAS];   /* all-reduce: each rank's private result */
    int64_t sum_cap[KN_MAX_REPLICAS];
};

kn_status kn_group_create(kn_group **out, int n)
{
    if (n < 1 || n > KN_MAX_REPLICAS)
        return kn_error(KN_ERR_INVALID, "replicas must be between 1 and %d, got %d", KN_MAX_REPLICAS, n);
    kn_group *g = calloc(1, sizeof *g);
    if (!g) return kn_error(KN_ERR_NOMEM, "out of memory creating a replica group");
    g->n = n;
    atomic_init(&g->arrived, 0);
    atomic_init(&g->generation, 0);
    atomic_init(&g->failed, 0);
    *out = g;
    return KN_OK;
}

void kn_group_free(kn_group *g)
{
    if (!g) return;
    for (int r = 0; r < g->n; r++) free(g->sum[r]);
    free(g);
}

int kn_group_size(const kn_group *g) { return g->n; }
void kn_group_reset(kn_group *g) { atomic_store(&g->failed, 0); }
void kn_group_fail(kn_group *g) { atomic_store(&g->failed, 1); }
bool kn_group_failed(const kn_group *g) { return atomic_load(&((kn_group *)g)->failed) != 0; }

kn_status kn_group_barrier(kn_group *g)
{
    if (g->n == 1) return KN_OK;
    const int gen = atomic_load_explicit(&g->generation, memory_order_acquire);
    if (atomic_fetch_add_explicit(&g->arrived, 1, memory_order_acq_rel) == g->n - 1) {
        atomic_store_explicit(&g->arrived, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&g->generation, 1, memory_order_release);
    } else {
        /* spin: the replicas do the same work, so waits are short; yield now and then in
         * case the machine is oversubscribed */
        for (unsigned spins = 1; atomic_load_explicit(&g->generation, memory_order_acquire) == gen; spins++) {
            if (atomic_load_explicit(&g->failed, memory_order_relaxed))
                return kn_error(KN_ERR_INTERNAL, "another replica failed");
            if (spins % 4096 == 0) sched_yield();
            else CPU_RELAX();
        }
    }
    if (atomic_load_explicit(&g->failed, memory_order_relaxed))
        return kn_error(KN_ERR_INTERNAL, "another replica failed");
    return KN_OK;
}

kn_status kn_group_allreduce(kn_group *g, int rank, double *buf, int64_t n)
{
    if (g->n == 1) return KN_OK;
    if (g->sum_cap[rank] < n) {
        double *p = realloc(g->sum[rank], sizeof(double) * (size_t)n);
        if (!p) {
            kn_group_fail(g);
            return kn_error(KN_ERR_NOMEM, "out of memory for an all-reduce of %lld values", (long long)n);
        }
        g->sum[rank] = p;
        g->sum_cap[rank] = n;
    }
    g->slot[rank] = buf;
    KN_TRY(kn_group_barrier(g));
    double *s = g->sum[rank];
    for (int64_t i = 0; i < n; i++) {
        double t = 0;
        for (int r = 0; r < g->n; r++) t += g->slot[r][i]; /* rank order: the same bits everywhere */
        s[i] = t;
    }
    KN_TRY(kn_group_barrier(g)); /* nobody overwrites its slot while another still reads it */
    memcpy(buf, s, sizeof(double) * (size_t)n);
    return KN_OK;
}

/* ---- which graphs may be split ---- */

typedef struct split_ctx {
    const kn_graph *g;
    const bool *batched;
    char *why;
    size_t why_len;
} split_ctx;

static bool refuse(const split_ctx *x, const kn_node *n, const char *reason)
{
    snprintf(x->why, x->why_len, "node '%s' (%s) %s", n->name, n->op_type, reason);
    return false;
}

static bool in_batched(const split_ctx *x, const kn_node *n, int j)
{
    return j < n->n_inputs && n->inputs[j] >= 0 && x->batched[n->inputs[j]];
}

/* A constant input's int64 values (Reshape's shape, Pad's pads...), or NULL. */
static const int64_t *const_ints(const split_ctx *x, const kn_node *n, int j, int64_t *count)
{
    if (j >= n->n_inputs || n->inputs[j] < 0) return NULL;
    const kn_value *v = &x->g->values[n->inputs[j]];
    if ((v->kind != KN_VALUE_CONST && v->kind != KN_VALUE_PARAM) || !v->data.data || v->data.dtype != KN_INT64)
        return NULL;
    *count = kn_tensor_numel(&v->data);
    return v->data.data;
}

static int rank_of(const split_ctx *x, int v) { return v >= 0 ? x->g->values[v].ndim : -1; }

/* An axis attribute that must not be the batch axis once normalised by the rank of input 0. */
static bool axis_not_batch(const split_ctx *x, const kn_node *n, const char *attr, int64_t def)
{
    int64_t axis;
    if (kn_attr_int(n, attr, def, &axis) != KN_OK) return refuse(x, n, "has an unreadable axis");
    if (axis < 0) {
        int r = rank_of(x, n->inputs[0]);
        if (r < 0) return refuse(x, n, "has a negative axis on an input of unknown rank");
        axis += r;
    }
    return axis != 0 ? true : refuse(x, n, "works across the batch axis");
}

/* An input without the batch, broadcast against batch values of rank rb, must not touch
 * the batch axis: a lower rank, or a 1 where it lines up with that axis. */
static bool bcast_input_ok(const split_ctx *x, const kn_node *n, int j, int rb)
{
    if (j >= n->n_inputs || n->inputs[j] < 0 || in_batched(x, n, j)) return true;
    const kn_value *v = &x->g->values[n->inputs[j]];
    if (v->ndim < 0 || rb < 0) return refuse(x, n, "broadcasts an input of unknown rank");
    if (v->ndim >= rb && v->shape[v->ndim - rb] != 1) return refuse(x, n, "broadcasts a constant along the batch axis");
    return true;
}

static bool broadcast_safe(const split_ctx *x, const kn_node *n)
{
    int rb = -1;
    for (int j = 0; j < n->n_inputs; j++)
        if (in_batched(x, n, j) && rank_of(x, n->inputs[j]) > rb) rb = rank_of(x, n->inputs[j]);
    for (int j = 0; j < n->n_inputs; j++)
        if (!bcast_input_ok(x, n, j, rb)) return false;
    return true;
}

/* Only input 0 carries the batch; the others are weights. */
static bool only_first_batched(const split_ctx *x, const kn_node *n)
{
    if (!in_batched(x, n, 0)) return refuse(x, n, "takes the batch in an input other than the first");
    for (int j = 1; j < n->n_inputs; j++)
        if (in_batched(x, n, j)) return refuse(x, n, "combines two batch-dependent inputs");
    return true;
}

static bool name_in(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(name, *list)) return true;
    return false;
}

static const char *const elementwise[] = {
    "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Exp", "Log", "Abs", "Neg", "Sqrt", "Reciprocal", "Elu", "Selu",
    "Softplus", "Softsign", "HardSigmoid", "HardSwish", "Floor", "Ceil", "Erf", "Sin", "Cos", "Round", "Sign",
    "Celu", "ThresholdedRelu", "Mish", "Gelu", "Cast", "Identity", "Dropout", "IsNaN", "IsInf", "Not", "Clip",
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "PRelu", "Where", "Equal", "Less", "Greater",
    "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Mod", NULL};
static const char *const per_sample[] = {
    "Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool",
    "InstanceNormalization", "LRN", NULL};

static bool loss_ok(const split_ctx *x, const kn_node *n, bool training)
{
    if (!training || n->outputs[0] != x->g->loss) return refuse(x, n, "reduces over the batch outside a training loss");
    if (!strcmp(n->op_type, "ReduceMean")) {
        if (kn_node_attr(n, "axes") || (n->n_inputs > 1 && n->inputs[1] >= 0))
            return refuse(x, n, "is a loss over chosen axes, not the mean of all elements");
        return true;
    }
    const char *red;
    if (kn_attr_string(n, "reduction", "mean", &red) != KN_OK || strcmp(red, "mean"))
        return refuse(x, n, "is a loss that is not a plain mean over the batch");
    if (n->n_inputs > 2 && n->inputs[2] >= 0) return refuse(x, n, "is a class-weighted loss (a weighted mean)");
    if (kn_node_attr(n, "ignore_index"))
        return refuse(x, n, "is a loss with ignore_index (a mean over a data-dependent count)");
    return in_batched(x, n, 0) && in_batched(x, n, 1) ? true : refuse(x, n, "has scores or labels without the batch");
}

static bool node_ok(const split_ctx *x, const kn_node *n, bool training)
{
    const char *op = n->op_type;
    const bool kiln = n->domain && !strcmp(n->domain, "kiln");
    if (!kiln && name_in(op, elementwise)) return broadcast_safe(x, n);
    if (!kiln && name_in(op, per_sample)) return only_first_batched(x, n);
    if (kiln && !strcmp(op, "FusedConv")) /* X and the residual Z carry the batch */
        return in_batched(x, n, 0) && !in_batched(x, n, 1) && !in_batched(x, n, 2) ? true
               : refuse(x, n, "takes the batch in a weight");
    if (!strcmp(op, "Gemm") || (kiln && !strcmp(op, "FusedGemm"))) {
        int64_t ta;
        if (!only_first_batched(x, n)) return false;
        if (kn_attr_int(n, "transA", 0, &ta) != KN_OK || ta) return refuse(x, n, "contracts over the batch (transA)");
        return bcast_input_ok(x, n, 2, 2); /* C against the [N, M] result */
    }
    if (!strcmp(op, "MatMul")) {
        if (!only_first_batched(x, n)) return false;
        return rank_of(x, n->inputs[0]) >= 2 ? true : refuse(x, n, "has a batch input of rank < 2 or unknown rank");
    }
    if (!strcmp(op, "BatchNormalization")) {
        int64_t mode = 0;
        if (!only_first_batched(x, n)) return false;
        if (!training && ((x->g->opset >= 14 && (kn_attr_int(n, "training_mode", 0, &mode) != KN_OK || mode)) ||
                          (x->g->opset < 14 && n->n_outputs > 1)))
            return refuse(x, n, "normalises with batch statistics outside a training session");
        /* training shares whole-batch statistics through the group; the optional running
         * statistic outputs would be written by every replica */
        return !training || n->n_outputs == 1 ? true : refuse(x, n, "returns batch statistics as outputs");
    }
    if (!strcmp(op, "Flatten")) return only_first_batched(x, n) && axis_not_batch(x, n, "axis", 1);
    if (!strcmp(op, "Softmax") || !strcmp(op, "LogSoftmax") || !strcmp(op, "Hardmax"))
        return only_first_batched(x, n) && axis_not_batch(x, n, "axis", x->g->opset >= 13 ? -1 : 1);
    if (!strcmp(op, "LayerNormalization")) return only_first_batched(x, n) && axis_not_batch(x, n, "axis", -1);
    if (!strcmp(op, "Concat")) {
        for (int j = 0; j < n->n_inputs; j++)
            if (!in_batched(x, n, j)) return refuse(x, n, "concatenates a constant with the batch");
        return axis_not_batch(x, n, "axis", 1);
    }
    if (!strcmp(op, "Transpose")) {
        int64_t perm[KN_MAX_DIMS];
        int count = -1;
        if (kn_attr_ints(n, "perm", perm, KN_MAX_DIMS, &count) != KN_OK || count < 1 || perm[0] != 0)
            return refuse(x, n, "moves the batch axis");
        return only_first_batched(x, n);
    }
    if (!strcmp(op, "Reshape")) {
        int64_t cnt = 0, allowzero = 0;
        const int64_t *shape = const_ints(x, n, 1, &cnt);
        if (!only_first_batched(x, n)) return false;
        if (kn_attr_int(n, "allowzero", 0, &allowzero) != KN_OK || allowzero || !shape || cnt < 1 ||
            (shape[0] != 0 && shape[0] != -1))
            return refuse(x, n, "reshapes without keeping the batch axis first (needs a constant shape "
                                "starting with 0 or -1)");
        return true;
    }
    if (!strcmp(op, "SoftmaxCrossEntropyLoss") || !strcmp(op, "NegativeLogLikelihoodLoss") ||
        !strcmp(op, "ReduceMean"))
        return loss_ok(x, n, training);
    return refuse(x, n, "is not known to treat batch rows independently");
}

bool kn_split_check(const kn_graph *g, const int *order, int n_order, bool training, char *why, size_t why_len)
{
    char dummy[8];
    if (!why || why_len == 0) { why = dummy; why_len = sizeof dummy; }
    why[0] = '\0';
    bool *batched = calloc((size_t)(g->n_values ? g->n_values : 1), sizeof *batched);
    if (!batched) {
        snprintf(why, why_len, "out of memory");
        return false;
    }
    split_ctx x = {g, batched, why, why_len};
    bool ok = g->n_inputs > 0;
    if (!ok) snprintf(why, why_len, "the graph has no inputs");
    for (int i = 0; ok && i < g->n_inputs; i++) {
        const kn_value *v = &g->values[g->inputs[i]];
        if (v->ndim < 1 || v->shape[0] != KN_DIM_UNKNOWN) {
            snprintf(why, why_len, "input '%s' has no free batch dimension", v->name);
            ok = false;
        }
        batched[g->inputs[i]] = true;
    }
    for (int oi = 0; ok && oi < n_order; oi++) {
        const kn_node *n = &g->nodes[order[oi]];
        bool any = false;
        for (int j = 0; j < n->n_inputs; j++) any |= in_batched(&x, n, j);
        if (!any) continue; /* computed from constants: every replica computes the same */
        if (!(ok = node_ok(&x, n, training))) break;
        for (int j = 0; j < n->n_outputs; j++) batched[n->outputs[j]] = true;
    }
    for (int i = 0; ok && i < g->n_outputs; i++)
        if (!batched[g->outputs[i]]) {
            snprintf(why, why_len, "output '%s' does not depend on the batch", g->values[g->outputs[i]].name);
            ok = false;
        }
    if (ok && training && (g->loss < 0 || !batched[g->loss])) {
        snprintf(why, why_len, "the loss does not depend on the batch");
        ok = false;
    }
    free(batched);
    return ok;
}
