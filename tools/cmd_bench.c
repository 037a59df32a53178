/* kiln bench MODEL: first-call and steady-state latency, throughput; O0 vs O2 node by node. */
#include "tools/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: kiln bench MODEL.onnx [--batch B] [--iters N] [--warmup W] [-O 0|1|2] [--threads T]\n"
            "                  [--replicas auto|R] [--device cpu|cuda|auto] [--disable PASS,...]\n"
            "                  [--json | --compare-levels]\n\n"
            "Random inputs (symbolic dims, e.g. the batch, set to B; default 1). Measures the first run of a\n"
            "new session (cold: shapes, buffers, memory plan), runs W warm-up iterations (default 10), then\n"
            "times N runs (default 200): median, p90, p99 latency in microseconds and samples per second.\n"
            "--json prints {\"median_us\", \"p90_us\", \"p99_us\", \"throughput_per_s\", \"batch\", \"level\",\n"
            "\"first_call_us\", \"warmup\", \"replicas\"}. --compare-levels benchmarks -O 0 and -O 2 and lines up each O2\n"
            "node with the O0 nodes it absorbed (by name), with the total speedup. Default -O 2.\n"
            "--replicas splits batches of at least 4 rows per replica across threads, each running the\n"
            "whole model on its slice; auto (default): one per thread for models with convolutions or\n"
            "pooling; 1 runs each batch whole.\n");
    return status;
}

typedef struct {
    double create_us, first_us, median_us, p90_us, p99_us, mean_us, throughput;
    int replicas;     /* batch slices run in parallel (1: whole batches) */
    char why[256];    /* why replicas were asked for but not used */
} bench_stats;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static double percentile(const double *v, int n, double pct)
{
    int k = (int)ceil(pct / 100.0 * n);
    return v[k < 1 ? 0 : k > n ? n - 1 : k - 1];
}

/* One session at `level`: cold first run, warm-up, n timed runs. With prof != NULL the
 * session profiles and *prof receives it (caller frees); the timings then include profiling. */
static int measure(const kn_cli_perf *p, int level, const kn_graph *g, const kn_tensor **feed, int64_t samples,
                   bench_stats *st, kn_session **prof)
{
    kn_session_opts o = p->sess;
    o.level = level;
    o.profile = prof != NULL;
    kn_session *s = NULL;
    double *lat = malloc(sizeof(double) * (size_t)p->iters);
    int rc = 1;
    if (!lat) return kn_cli_fail("bench", "out of memory");
    double t0 = kn_cli_now();
    if (kn_session_create(&s, g, &o) != KN_OK) { kn_cli_fail("bench", NULL); goto done; }
    double t1 = kn_cli_now();
    if (kn_session_run(s, feed, g->n_inputs) != KN_OK) { kn_cli_fail("bench", NULL); goto done; }
    kn_cli_sync(o.device);
    double t2 = kn_cli_now();
    if (kn_session_warmup(s, feed, g->n_inputs, p->warmup) != KN_OK) { kn_cli_fail("bench", NULL); goto done; }
    kn_cli_sync(o.device);
    if (prof) kn_session_profile_reset(s);
    double sum = 0;
    for (int i = 0; i < p->iters; i++) {
        double a = kn_cli_now();
        if (kn_session_run(s, feed, g->n_inputs) != KN_OK) { kn_cli_fail("bench", NULL); goto done; }
        kn_cli_sync(o.device);
        lat[i] = kn_cli_now() - a;
        sum += lat[i];
    }
    qsort(lat, (size_t)p->iters, sizeof *lat, cmp_double);
    st->create_us = (t1 - t0) * 1e6;
    st->first_us = (t2 - t1) * 1e6;
    st->median_us = percentile(lat, p->iters, 50) * 1e6;
    st->p90_us = percentile(lat, p->iters, 90) * 1e6;
    st->p99_us = percentile(lat, p->iters, 99) * 1e6;
    st->mean_us = sum / p->iters * 1e6;
    st->throughput = sum > 0 ? (double)samples * p->iters / sum : 0;
    {
        const char *why;
        st->replicas = kn_session_last_run_split(s) ? kn_session_replicas(s, &why) : 1;
        kn_session_replicas(s, &why);
        snprintf(st->why, sizeof st->why, "%s", why);
    }
    rc = 0;
    if (prof) {
        *prof = s;
        s = NULL;
    }
done:
    kn_session_free(s);
    free(lat);
    return rc;
}

static void print_stats(const char *label, const bench_stats *st)
{
    printf("%s session create %.1f us (optimizer), first run %.1f us (cold: planning included)\n", label, st->create_us,
           st->first_us);
    printf("%s median %.1f us  p90 %.1f us  p99 %.1f us  mean %.1f us  throughput %.1f samples/s\n", label,
           st->median_us, st->p90_us, st->p99_us, st->mean_us, st->throughput);
}

static kn_node_profile *get_profile(const kn_session *s, int *n)
{
    *n = kn_session_profile(s, NULL, 0);
    kn_node_profile *p = calloc((size_t)(*n ? *n : 1), sizeof *p);
    if (p) kn_session_profile(s, p, *n);
    return p;
}

static double mean_us(const kn_node_profile *q) { return q->calls ? q->seconds / (double)q->calls * 1e6 : 0; }

/* Index of the first O0 node named name[0..len) not matched yet, or -1. */
static int find_o0(const kn_node_profile *p0, int n0, const bool *used, const char *name, size_t len)
{
    for (int i = 0; i < n0; i++)
        if (!used[i] && p0[i].name && strlen(p0[i].name) == len && !strncmp(p0[i].name, name, len)) return i;
    return -1;
}

static int compare_levels(const kn_cli_perf *p, const kn_graph *g, const kn_tensor **feed, int64_t samples)
{
    bench_stats st[2], unused;
    kn_session *ps[2] = {NULL, NULL};
    kn_node_profile *prof[2] = {NULL, NULL};
    int n[2] = {0, 0}, levels[2] = {0, 2}, rc = 1;
    bool *used = NULL;
    for (int k = 0; k < 2; k++) {
        if (measure(p, levels[k], g, feed, samples, &st[k], NULL)) goto done;
        /* node times come from a separate profiled session so the latencies above stay unperturbed */
        if (measure(p, levels[k], g, feed, samples, &unused, &ps[k])) goto done;
        if (!(prof[k] = get_profile(ps[k], &n[k]))) { kn_cli_fail("bench", "out of memory"); goto done; }
    }
    if (!(used = calloc((size_t)(n[0] ? n[0] : 1), sizeof *used))) { kn_cli_fail("bench", "out of memory"); goto done; }
    printf("bench %s: batch %lld, %d iterations after %d warm-up, %s\n", p->model, (long long)samples, p->iters,
           p->warmup, kn_device_name(p->sess.device));
    print_stats("O0:", &st[0]);
    print_stats("O2:", &st[1]);
    int w = 8;
    for (int i = 0; i < n[1]; i++)
        if (prof[1][i].name && (int)strlen(prof[1][i].name) > w) w = (int)strlen(prof[1][i].name);
    printf("\nnode by node, mean us per run (an O2 node against the O0 nodes it absorbed):\n");
    printf("%-*s  %-18s %10s %10s %8s  %s\n", w, "O2 node", "O2 op", "O2 us", "O0 us", "speedup", "O0 ops");
    double sum0 = 0, sum2 = 0;
    for (int i = 0; i < n[1]; i++) {
        const kn_node_profile *q = &prof[1][i];
        const char *name = q->name ? q->name : "";
        double t0 = 0;
        int matched = 0;
        char ops[256] = "";
        int j = find_o0(prof[0], n[0], used, name, strlen(name));
        /* exact name first (unfused nodes, and names that contain '+' themselves), else the parts */
        for (const char *c = name; j < 0 && *c;) {
            size_t len = strcspn(c, "+");
            int m = find_o0(prof[0], n[0], used, c, len);
            if (m >= 0) {
                used[m] = true;
                t0 += mean_us(&prof[0][m]);
                size_t o = strlen(ops);
                snprintf(ops + o, sizeof ops - o, "%s%s", matched++ ? "+" : "", prof[0][m].op_type);
            }
            c += len + (c[len] == '+');
        }
        if (j >= 0) {
            used[j] = true;
            t0 = mean_us(&prof[0][j]);
            snprintf(ops, sizeof ops, "%s", prof[0][j].op_type);
            matched = 1;
        }
        sum2 += mean_us(q);
        sum0 += t0;
        if (matched)
            printf("%-*s  %-18s %10.2f %10.2f %7.2fx  %s\n", w, name, q->op_type, mean_us(q), t0,
                   mean_us(q) > 0 ? t0 / mean_us(q) : 0, ops);
        else
            printf("%-*s  %-18s %10.2f %10s %8s  (no O0 node of that name)\n", w, name, q->op_type, mean_us(q), "-", "-");
    }
    for (int i = 0; i < n[0]; i++) {
        if (used[i]) continue;
        printf("%-*s  %-18s %10s %10.2f %8s  %s (removed at O2)\n", w, prof[0][i].name ? prof[0][i].name : "", "-", "-",
               mean_us(&prof[0][i]), "", prof[0][i].op_type);
        sum0 += mean_us(&prof[0][i]);
    }
    printf("%-*s  %-18s %10.2f %10.2f %7.2fx\n", w, "sum of nodes", "", sum2, sum0, sum2 > 0 ? sum0 / sum2 : 0);
    printf("\ntotal: O0 median %.1f us, O2 median %.1f us: O2 is %.2fx the speed of O0 (%d nodes -> %d)\n",
           st[0].median_us, st[1].median_us, st[1].median_us > 0 ? st[0].median_us / st[1].median_us : 0, n[0], n[1]);
    rc = 0;
done:
    free(used);
    for (int k = 0; k < 2; k++) {
        free(prof[k]);
        kn_session_free(ps[k]);
    }
    return rc;
}

int kn_cmd_bench(int argc, char **argv)
{
    kn_cli_perf p = kn_cli_perf_defaults(200, 10);
    bool json = false, compare = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(0);
        int r = kn_cli_perf_option("bench", argc, argv, &i, &p);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--compare-levels")) compare = true;
        else if (a[0] == '-') {
            fprintf(stderr, "kiln bench: unknown option '%s'\n", a);
            return usage(2);
        } else if (!p.model) {
            p.model = a;
        } else {
            fprintf(stderr, "kiln bench: unexpected argument '%s' (one model only)\n", a);
            return usage(2);
        }
    }
    if (!p.model) {
        fprintf(stderr, "kiln bench: no model given\n");
        return usage(2);
    }
    if (json && compare) return kn_cli_fail("bench", "--json and --compare-levels cannot be combined");
    kn_graph *g = NULL;
    kn_tensor *ins = NULL;
    const kn_tensor **feed = NULL;
    int64_t samples;
    int rc = 1;
    if (kn_onnx_load(p.model, &g) != KN_OK) return kn_cli_fail("bench", NULL);
    if (kn_cli_random_inputs("bench", g, p.batch, p.batch_given, &ins, &feed, &samples)) goto done;
    if (compare) {
        rc = compare_levels(&p, g, feed, samples);
        goto done;
    }
    bench_stats st;
    if (measure(&p, p.sess.level, g, feed, samples, &st, NULL)) goto done;
    if (json) {
        printf("{\"median_us\": %.3f, \"p90_us\": %.3f, \"p99_us\": %.3f, \"throughput_per_s\": %.3f, \"batch\": %lld, "
               "\"level\": %d, \"first_call_us\": %.3f, \"warmup\": %d, \"replicas\": %d}\n",
               st.median_us, st.p90_us, st.p99_us, st.throughput, (long long)samples, p.sess.level, st.first_us, p.warmup,
               st.replicas);
    } else {
        printf("bench %s: -O %d, batch %lld, %d iterations after %d warm-up, %s\n", p.model, p.sess.level,
               (long long)samples, p.iters, p.warmup, kn_device_name(p.sess.device));
        if (st.replicas > 1) printf("data parallel: %d replicas\n", st.replicas);
        else if (st.why[0]) printf("no replicas: %s\n", st.why);
        print_stats("", &st);
    }
    rc = 0;
done:
    kn_cli_free_inputs(ins, feed, g ? g->n_inputs : 0);
    kn_graph_free(g);
    return rc;
}
