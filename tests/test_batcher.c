/* The request batcher: many threads, one session. Results must equal a plain
 * session run per sample; batches must form and respect max_batch; bad samples
 * are refused by name; run errors reach every request of their batch; closing
 * drains pending requests without waiting out max_wait_us. */
#include "helpers.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_THREADS 8
#define PER_THREAD 25

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Gemm(x, W[out, in], b, transB=1), like kn_linear. kn_linear itself is not used: on
 * this branch its builder infers shapes before transB is set and refuses in != out
 * (main fixed that in 125193a, "builders infer after attributes"). */
static int linear(kn_graph *g, int x, int64_t in_f, int64_t out_f, const char *name)
{
    char pn[64];
    float bound = 1.0f / sqrtf((float)in_f);
    snprintf(pn, sizeof pn, "%s.weight", name);
    int w = kn_param_uniform(g, pn, 2, (int64_t[]){out_f, in_f}, bound);
    snprintf(pn, sizeof pn, "%s.bias", name);
    int b = kn_param_uniform(g, pn, 1, (int64_t[]){out_f}, bound);
    int y, node;
    T_OK(kn_graph_add_value(g, NULL, KN_FLOAT, 2, (int64_t[]){KN_DIM_UNKNOWN, out_f}, &y));
    T_OK(kn_graph_add_node(g, "Gemm", "", name, 3, (int[]){x, w, b}, 1, &y, &node));
    T_OK(kn_node_set_int(g, node, "transB", 1));
    return y;
}

/* x [-1, 4] -> fc1 (16) -> relu -> fc2 (3) */
static kn_graph *mlp(void)
{
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    kn_graph_seed(g, 42);
    int x = kn_input(g, "x", KN_FLOAT, 2, (int64_t[]){KN_DIM_UNKNOWN, 4});
    kn_output(g, linear(g, kn_relu(g, linear(g, x, 4, 16, "fc1")), 16, 3, "fc2"));
    T_OK(kn_graph_status(g));
    return g;
}

static kn_tensor sample(int thread, int j)
{
    return t_new_rand((uint64_t)(1000 * thread + j + 1), -2, 2, 2, 1, 4);
}

/* Reference outputs: each sample alone through a plain session. */
static float ref[N_THREADS][PER_THREAD][3];

static void compute_refs(const kn_graph *g)
{
    kn_session *s;
    T_OK(kn_session_create(&s, g, NULL));
    for (int t = 0; t < N_THREADS; t++)
        for (int j = 0; j < PER_THREAD; j++) {
            kn_tensor x = sample(t, j);
            const kn_tensor *in[1] = {&x};
            T_OK(kn_session_run(s, in, 1));
            const kn_tensor *y = kn_session_output(s, 0);
            cr_assert_eq(kn_tensor_numel(y), 3);
            memcpy(ref[t][j], y->data, sizeof ref[t][j]);
            kn_tensor_release(&x);
        }
    kn_session_free(s);
}

typedef struct worker_arg {
    kn_batcher *b;
    int id, count;
    bool check;     /* compare with ref[][] */
    bool until_error;
    int ok, errors, wrong;
    double max_diff;
    char first_error[256];
} worker_arg;

static void *submit_loop(void *p)
{
    worker_arg *a = p;
    for (int j = 0; j < a->count; j++) {
        kn_tensor x = sample(a->id, j % PER_THREAD);
        const kn_tensor *in[1] = {&x};
        kn_tensor y[1];
        kn_status st = kn_batcher_infer(a->b, in, 1, y, 1);
        if (st != KN_OK) {
            if (!a->errors++) snprintf(a->first_error, sizeof a->first_error, "%s", kn_last_error());
            if (a->until_error) j = a->count;
        } else {
            a->ok++;
            if (y[0].ndim != 2 || y[0].shape[0] != 1 || y[0].shape[1] != 3) a->wrong++;
            else if (a->check)
                for (int k = 0; k < 3; k++) {
                    double r = ref[a->id][j % PER_THREAD][k], d = fabs(((float *)y[0].data)[k] - r);
                    if (d > a->max_diff) a->max_diff = d;
                    if (d > 1e-6 + 1e-6 * fabs(r)) a->wrong++;
                }
        }
        kn_tensor_release(&y[0]);
        kn_tensor_release(&x);
    }
    return NULL;
}

static void run_threads(worker_arg *args, int n)
{
    pthread_t th[N_THREADS];
    for (int t = 0; t < n; t++) cr_assert_eq(pthread_create(&th[t], NULL, submit_loop, &args[t]), 0);
    for (int t = 0; t < n; t++) pthread_join(th[t], NULL);
}

Test(batcher, concurrent_results_match_single_runs)
{
    kn_graph *g = mlp();
    compute_refs(g);
    kn_batcher *b;
    T_OK(kn_batcher_create(&b, g, NULL, 8, 3000));
    kn_graph_free(g); /* the batcher's session keeps what it needs */
    cr_assert_eq(kn_batcher_num_inputs(b), 1);
    cr_assert_eq(kn_batcher_num_outputs(b), 1);
    worker_arg args[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) args[t] = (worker_arg){.b = b, .id = t, .count = PER_THREAD, .check = true};
    run_threads(args, N_THREADS);
    double worst = 0;
    for (int t = 0; t < N_THREADS; t++) {
        cr_assert_eq(args[t].errors, 0, "thread %d: %s", t, args[t].first_error);
        cr_assert_eq(args[t].ok, PER_THREAD);
        cr_assert_eq(args[t].wrong, 0, "thread %d: %d results differ from single runs (max |diff| %g)", t,
                     args[t].wrong, args[t].max_diff);
        if (args[t].max_diff > worst) worst = args[t].max_diff;
    }
    kn_batcher_counts c;
    kn_batcher_stats(b, &c);
    cr_assert_eq(c.requests, N_THREADS * PER_THREAD);
    cr_assert_eq(c.failed, 0);
    cr_assert_eq(c.pending, 0);
    cr_assert_leq(c.largest_batch, 8);
    cr_assert_gt(c.mean_batch, 1.5, "batches should form: %lld requests in %lld batches", (long long)c.requests,
                 (long long)c.batches);
    cr_assert_float_eq(c.mean_batch, (double)c.requests / (double)c.batches, 1e-12);
    cr_log_info("%lld batches, mean %.2f, max |batched - single| %g", (long long)c.batches, c.mean_batch, worst);
    kn_batcher_free(b);
}

Test(batcher, max_batch_is_respected)
{
    kn_graph *g = mlp();
    kn_batcher *b;
    T_OK(kn_batcher_create(&b, g, NULL, 3, 20000));
    worker_arg args[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) args[t] = (worker_arg){.b = b, .id = t, .count = 10};
    run_threads(args, N_THREADS);
    kn_batcher_counts c;
    kn_batcher_stats(b, &c);
    for (int t = 0; t < N_THREADS; t++) cr_assert_eq(args[t].ok, 10, "%s", args[t].first_error);
    cr_assert_eq(c.requests, N_THREADS * 10);
    cr_assert_leq(c.largest_batch, 3);
    cr_assert_eq(c.largest_batch, 3, "8 threads against max_batch 3 fill batches");
    cr_assert_geq(c.batches, (N_THREADS * 10 + 2) / 3);
    kn_batcher_free(b);
    kn_graph_free(g);
}

Test(batcher, bad_samples_are_refused_by_name)
{
    kn_graph *g = mlp();
    kn_batcher *b;
    T_OK(kn_batcher_create(&b, g, NULL, 4, 1000));
    kn_tensor y[1];
    kn_tensor two = t_new(2, 2, 4), wide = t_new(2, 1, 5), flat = t_new(1, 4);
    const kn_tensor *in_two[1] = {&two}, *in_wide[1] = {&wide}, *in_flat[1] = {&flat};
    cr_assert_eq(kn_batcher_infer(b, in_two, 1, y, 1), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "'x'") && strstr(kn_last_error(), "[2,4]") && strstr(kn_last_error(), "[1,4]"),
              "%s", kn_last_error());
    cr_assert_null(y[0].data, "a failed request leaves its outputs shape-only");
    cr_assert_eq(kn_batcher_infer(b, in_wide, 1, y, 1), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "'x'") && strstr(kn_last_error(), "[1,5]"), "%s", kn_last_error());
    cr_assert_eq(kn_batcher_infer(b, in_flat, 1, y, 1), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "'x'") && strstr(kn_last_error(), "[4]"), "%s", kn_last_error());
    cr_assert_eq(kn_batcher_infer(b, in_flat, 0, y, 1), KN_ERR_INVALID);
    cr_assert_eq(kn_batcher_infer(b, in_wide, 1, y, 2), KN_ERR_INVALID);
    kn_batcher_counts c;
    kn_batcher_stats(b, &c);
    cr_assert_eq(c.batches, 0, "refused samples never reach the worker");
    kn_batcher_free(b);
    kn_tensor_release(&two); kn_tensor_release(&wide); kn_tensor_release(&flat);
    kn_graph_free(g);
}

Test(batcher, create_refuses_unbatchable_graphs_and_arguments)
{
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    int x = kn_input(g, "fixed_x", KN_FLOAT, 2, (int64_t[]){2, 4});
    kn_output(g, kn_relu(g, x));
    T_OK(kn_graph_status(g));
    kn_batcher *b = (kn_batcher *)1;
    cr_assert_eq(kn_batcher_create(&b, g, NULL, 4, 1000), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "'fixed_x'") && strstr(kn_last_error(), "[2,4]"), "%s", kn_last_error());
    cr_assert_null(b);
    kn_graph_free(g);
    g = mlp();
    cr_assert_eq(kn_batcher_create(&b, g, NULL, 0, 1000), KN_ERR_INVALID);
    cr_assert_eq(kn_batcher_create(&b, g, NULL, 4, -1), KN_ERR_INVALID);
    kn_session_opts o = kn_session_defaults();
    o.training = true;
    cr_assert_eq(kn_batcher_create(&b, g, &o, 4, 1000), KN_ERR_INVALID);
    kn_graph_free(g);
}

/* x [-1, -1] + c [4]: width-4 samples run, width-5 samples fail in the Add kernel.
 * Relu(x [-1, -1]): any width runs. Inputs are base, base+1, ... (>= 0). */
typedef struct add_arg {
    kn_batcher *b;
    int width;
    float base, add; /* expected y = x + add */
    kn_status st;
    char msg[512];
    bool right;
} add_arg;

static void *add_one(void *p)
{
    add_arg *a = p;
    kn_tensor x = t_new(2, 1, a->width);
    for (int k = 0; k < a->width; k++) ((float *)x.data)[k] = a->base + (float)k;
    const kn_tensor *in[1] = {&x};
    kn_tensor y[1];
    a->st = kn_batcher_infer(a->b, in, 1, y, 1);
    snprintf(a->msg, sizeof a->msg, "%s", a->st == KN_OK ? "" : kn_last_error());
    a->right = a->st == KN_OK && y[0].ndim == 2 && y[0].shape[0] == 1 && y[0].shape[1] == a->width;
    for (int k = 0; a->right && k < a->width; k++) a->right = ((float *)y[0].data)[k] == a->base + (float)k + a->add;
    kn_tensor_release(&y[0]);
    kn_tensor_release(&x);
    return NULL;
}

static kn_graph *add_graph(void)
{
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    int x = kn_input(g, "x", KN_FLOAT, 2, (int64_t[]){KN_DIM_UNKNOWN, KN_DIM_UNKNOWN});
    int c = kn_param_fill(g, "c", 1, (int64_t[]){4}, 1.0f, KN_VALUE_CONST);
    kn_output(g, kn_add(g, x, c));
    T_OK(kn_graph_status(g));
    return g;
}

static kn_graph *relu_graph(void)
{
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    kn_output(g, kn_relu(g, kn_input(g, "x", KN_FLOAT, 2, (int64_t[]){KN_DIM_UNKNOWN, KN_DIM_UNKNOWN})));
    T_OK(kn_graph_status(g));
    return g;
}

Test(batcher, run_errors_reach_the_whole_batch)
{
    kn_graph *g = add_graph();
    kn_batcher *b;
    /* max_batch 2 and a long wait: the two bad requests run together as soon as both are queued */
    T_OK(kn_batcher_create(&b, g, NULL, 2, 2000000));
    add_arg a[2] = {{.b = b, .width = 5, .base = 0, .add = 1}, {.b = b, .width = 5, .base = 10, .add = 1}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) cr_assert_eq(pthread_create(&th[i], NULL, add_one, &a[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        cr_assert_neq(a[i].st, KN_OK);
        cr_assert(strstr(a[i].msg, "batched run of 2 requests") != NULL, "%s", a[i].msg);
    }
    kn_batcher_counts c;
    kn_batcher_stats(b, &c);
    cr_assert_eq(c.batches, 1);
    cr_assert_eq(c.failed, 2);
    kn_batcher_free(b);
    kn_graph_free(g);
}

Test(batcher, samples_of_other_shapes_wait_for_their_own_batch)
{
    kn_graph *g = relu_graph();
    kn_batcher *b;
    T_OK(kn_batcher_create(&b, g, NULL, 8, 5000));
    add_arg a[6];
    pthread_t th[6];
    for (int i = 0; i < 6; i++) {
        a[i] = (add_arg){.b = b, .width = i % 2 ? 3 : 5, .base = (float)(10 * i)};
        cr_assert_eq(pthread_create(&th[i], NULL, add_one, &a[i]), 0);
    }
    for (int i = 0; i < 6; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 6; i++)
        cr_assert(a[i].st == KN_OK && a[i].right, "request %d (width %d): %s", i, a[i].width, a[i].msg);
    kn_batcher_counts c;
    kn_batcher_stats(b, &c);
    cr_assert_eq(c.requests, 6);
    cr_assert_geq(c.batches, 2, "two shapes never share a batch");
    kn_batcher_free(b);
    kn_graph_free(g);
}

Test(batcher, free_drains_pending_requests_without_waiting)
{
    kn_graph *g = mlp();
    compute_refs(g);
    kn_batcher *b;
    /* a 10 s wait and a large max_batch: these requests would sit until the deadline */
    T_OK(kn_batcher_create(&b, g, NULL, 64, 10000000));
    worker_arg args[4];
    pthread_t th[4];
    for (int t = 0; t < 4; t++) {
        args[t] = (worker_arg){.b = b, .id = t, .count = 1, .check = true};
        cr_assert_eq(pthread_create(&th[t], NULL, submit_loop, &args[t]), 0);
    }
    kn_batcher_counts c = {0};
    double t0 = seconds();
    while (seconds() - t0 < 2.0) {
        kn_batcher_stats(b, &c);
        if (c.pending == 4) break;
        usleep(1000);
    }
    cr_assert_eq(c.pending, 4, "all four requests are queued");
    cr_assert_eq(c.batches, 0);
    t0 = seconds();
    kn_batcher_free(b); /* the callers are inside kn_batcher_infer: their requests run */
    cr_assert_lt(seconds() - t0, 1.0, "free must not wait out max_wait_us");
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < 4; t++) {
        cr_assert_eq(args[t].ok, 1, "%s", args[t].first_error);
        cr_assert_eq(args[t].wrong, 0);
    }
    kn_graph_free(g);
}

Test(batcher, close_while_threads_submit)
{
    kn_graph *g = mlp();
    kn_batcher *b;
    T_OK(kn_batcher_create(&b, g, NULL, 4, 500));
    worker_arg args[N_THREADS];
    pthread_t th[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        args[t] = (worker_arg){.b = b, .id = t, .count = 1 << 30, .until_error = true};
        cr_assert_eq(pthread_create(&th[t], NULL, submit_loop, &args[t]), 0);
    }
    usleep(30000);
    kn_batcher_close(b);
    kn_batcher_close(b); /* idempotent */
    for (int t = 0; t < N_THREADS; t++) pthread_join(th[t], NULL);
    kn_batcher_counts c;
    kn_batcher_stats(b, &c);
    int64_t ok = 0;
    for (int t = 0; t < N_THREADS; t++) {
        ok += args[t].ok;
        cr_assert_gt(args[t].errors, 0);
        cr_assert(strstr(args[t].first_error, "closed") != NULL, "%s", args[t].first_error);
    }
    cr_assert_eq(c.requests, ok, "every accepted request was served");
    cr_assert_eq(c.pending, 0);
    kn_batcher_free(b);
    kn_graph_free(g);
}
